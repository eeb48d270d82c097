// Package vectordb is the embedded, durable, Milvus-compatible vector store
// that milvus-ha protects: collections of typed rows with FLAT and HNSW
// vector search, a write-ahead log guarded by the storage lease, and a warm
// standby that takes over in milliseconds.
//
// # Data model
//
// A DB holds named collections. Each has a Schema: one primary key (Int64
// or VarChar, optionally AutoID), one or more FloatVector fields (dim
// 1..32768), scalar fields (Bool, Int8..Int64, Float, Double, VarChar with a
// max length, JSON, Array of scalars; scalars may be Nullable) and
// optionally a dynamic field ("$meta", a JSON object per row holding keys
// that are not in the schema). Writes arrive column-wise (a Batch of
// Columns, the shape of Milvus FieldData); reads return the same shape.
// DataType values are Milvus' schemapb values.
//
// Semantics follow Milvus. Insert does not check keys for duplicates; the
// newest row of a key is the one every read sees (Milvus' reduce keeps the
// latest timestamp per key), so a repeated Insert behaves like Upsert.
// Delete removes every row of a key and returns how many rows it removed.
// Search returns the top-k live rows after Offset (L2: squared distance,
// ascending; IP and COSINE: similarity, descending), several queries at
// once, with a filter (the Milvus grammar, internal/expr) and output
// fields; Query returns rows in primary-key order after Offset, up to
// Limit; count(*) counts matching rows. Search, Query and Get need the
// collection loaded, and Load needs an index on every vector field, as in
// Milvus; the load state is persisted. Every collection is always in
// memory, so Load is instantaneous.
//
// Errors wrap one of the Err* kinds (errors.Is) and say exactly what is
// wrong ("dim mismatch: vector field \"emb\": dim 3, schema says 8"). A
// request that fails validation writes nothing.
//
// # In memory
//
// A collection is columnar: one append-only slice per scalar field and
// fixed 16384-row chunks per vector field (growth never copies vectors).
// Rows have dense uint32 ids in log order; a key → newest-row map and a
// tombstone bitmap give visibility. Each vector index (internal/index) is
// filled by a background builder: HNSW inserts are much slower than
// durable appends, so rows are acknowledged before they are in the graph.
// A search covers rows [0, indexed) through the index and the rest by an
// exact scan, so results never miss a row; DescribeIndex reports the
// builder's progress (IndexedRows).
//
// Vectors are held once: every index keeps the vectors as inserted (a
// COSINE index keeps 1/‖x‖ beside each and scales its distances), so once
// it holds every row of a chunk the collection drops its own chunk and
// reads those rows from the index (restored if the index is dropped). A
// chunk with a row the index refused (a zero vector has no COSINE
// direction) stays, and so does every chunk under a COSINE index loaded
// from a version-1 index file, which holds normalised vectors. Measured
// after recovery, 1M × 128, L2: 617 MiB resident with FLAT, 774 MiB with
// HNSW M=16; COSINE the same: 619 MiB with FLAT (1091 MiB when the store
// kept its own copy) and 774 MiB with HNSW M=16 (`milvus-ha bench store
// --parts store --million --index HNSW --metric COSINE`).
//
// # Durability
//
// Writes are validated, encoded as records and handed to a single
// committer, which packs everything queued into one log entry (group
// commit), appends it to the WAL (internal/wal: one write, one fdatasync,
// then a re-read of OWNER), and only then applies the records to memory
// in log order and acknowledges them. A failed append (fenced, disk full,
// I/O error) acknowledges nothing and applies nothing; the DB then refuses
// writes (RoleFenced or RoleFailed, and Fenced() is closed so the keeper
// steps down) but keeps serving reads while its storage lease holds.
// Because only the log order feeds memory, replaying the log rebuilds
// identical row ids.
//
// Every write is atomic, whatever its size. One whose record would exceed
// 48 MiB (a log entry holds at most 64 MiB; Milvus clients send up to
// 256 MiB) is logged as row chunks, one entry each, appended as one atomic
// WAL batch (wal.AppendBatch): the log holds all of them or none, a torn
// batch vanishes whole at recovery, and the tailer delivers it only whole.
// The chunks are applied only together, under one lock of the collection
// (the primary applies the write as one record), so no reader on the
// primary or a standby ever sees part of a write. Only a single row above
// 48 MiB is refused (ErrInvalidArgument, naming the row).
//
// # Reads and the lease
//
// A node that has been primary answers Get, Query, Count and Search only
// while it can prove that it still holds the storage lease
// (guard.Guard.AwaitServe: renewed within the serve window, ticking, and
// revalidated after any pause; a read that finds the window just lapsed
// waits up to a lease timeout for the guard to revalidate or lose the
// lease); otherwise they fail with ErrLeaseUnproven
// (Milvus code 2, service unavailable, retriable). A primary frozen past
// its lease (SIGSTOP, VM freeze, host suspend) may have been replaced by
// a peer that has written since: from the first instant after it resumes
// it refuses, instead of answering from its old state. The check is an
// atomic load and a clock read per request. A standby's reads are not
// checked: it is behind the owner by nature, and the keeper serves no API
// there. Catalog reads (DescribeCollection, HasCollection, ...) are not
// checked either.
//
// # On-disk layout (format version 1)
//
//	OWNER, HEARTBEAT                       storage lease (internal/guard)
//	wal/<epoch>-<seq>.log                  log segments (internal/wal)
//	checkpoints/ckpt-<lsn>-e<epoch>.manifest
//	checkpoints/coll-<id>-<lsn>-e<epoch>.snap
//	checkpoints/coll-<id>-<lsn>-e<epoch>.f<field>.idx
//
// A log entry is a sequence of (uvarint length, record). A record is
// version byte 1, an opcode and its fields (see record.go): create/drop
// collection, create/drop index, set load state, insert (all columns in
// schema order, auto IDs already assigned, vectors as raw little-endian
// float32), delete (the keys; a delete by filter is resolved to keys
// before it is logged, so replay never re-evaluates a filter). An entry
// of a write split over n entries holds the insert or delete of one run of
// rows followed by a part record (index, n) (split.go); the part record
// (op 8) is new in record version 1, and a build without it refuses such a
// log as corrupt instead of misreading it.
//
// A checkpoint is the state after one log entry (never inside a split
// write: it is captured between the committer's appends). The manifest (catalog:
// collection files, ID and timestamp counters) is written last; each
// .snap holds one collection (schema, load state, every column, tombstone
// bitmap, index parameters and how many rows its graph covers) in
// length-prefixed blocks with a CRC-32C trailer; each .idx is the index in
// internal/index's own checksummed format. Every file is written to a
// temporary name, fsynced, renamed and the directory fsynced, so a file
// under its final name is complete. Collections unchanged since the last
// checkpoint keep their files. Files carry the writer's epoch: a deposed
// primary deletes only files of its own or older epochs.
//
// # Recovery and checkpoints
//
// Open loads the newest manifest whose files all verify (falling back to
// the previous checkpoint if the newest is damaged) and replays the log
// after it. A checkpoint starts when CheckpointBytes (default 256 MiB) of
// log accumulated since the last one, or on Checkpoint(); it is captured
// on the committer between two groups (only tombstones are copied: rows
// below the captured count never change) and written in the background.
// After the manifest is durable the log is truncated behind the previous
// checkpoint, so one damaged checkpoint never loses data. Recovery time is
// bounded by reading the checkpoint (about the size of the data plus the
// graph) plus replaying at most two checkpoints' worth of log.
//
// The HNSW graph is persisted in the checkpoint and loaded, not rebuilt:
// building 1M×128 at M=16, efConstruction=200 took 25 minutes on a shared
// two-core machine, while a cold recovery of that collection (checkpoint
// load including the graph, plus log replay) took 2.8 s; writing the
// checkpoint took 2.9 s. The graph file is about 650 MB (vectors plus 132
// bytes of links per row). Rows the
// graph did not yet hold when the checkpoint was taken, and rows replayed
// from the log, are added by the background builder after Open returns;
// until then they are searched exactly.
//
// # Standby and promote
//
// Open in Standby mode loads the checkpoint like a primary, then tails the
// current epoch's log (wal.Tailer, polled every 5 ms) and applies every
// entry the primary acknowledged, keeping collections and index graphs
// warm. Writes on a standby fail with ErrNotPrimary. Promote takes the
// lease (guard.Acquire: bumps the epoch; refused with guard.ErrPeerAlive
// while the owner's heartbeat moves), seals the previous epoch at its
// last whole batch, applies only the entries the tailer had not yet
// delivered, and starts the committer: 3 ms measured for a 1M-row
// standby, plus the unread tail. If the primary truncated the log past a standby that fell
// far behind, the standby reloads from the newest checkpoint.
//
// A primary whose lease ends (or whose append is refused by the fence
// check) stops accepting writes at once; records it wrote after the new
// owner's seal are ignored by every later recovery.
package vectordb
