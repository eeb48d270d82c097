// Package vectordb is the embedded, durable, Milvus-compatible vector store
// that milvus-ha protects.
//
// # Data model
//
// A DB holds named collections. Each has a Schema: one primary key (Int64
// or VarChar, optionally AutoID), one or more FloatVector fields (dim
// 1..32768), scalar fields (Bool, Int8..Int64, Float, Double, VarChar with a
// max length, JSON, Array) and optionally a dynamic field ("$meta", a JSON
// object per row holding columns that are not in the schema). Writes arrive
// column-wise (Batch of Columns, the shape of Milvus FieldData); reads return
// the same shape.
//
// Semantics follow Milvus: Insert does not check keys for duplicates, and
// the newest row of a key is the one reads see (Milvus' reduce keeps the
// latest timestamp per key); Upsert replaces; Delete removes every row of a
// key; Search returns the top-k live rows (L2: squared distance, ascending;
// IP and COSINE: similarity, descending) after Offset; Query returns rows
// in primary-key order after Offset, up to Limit.
//
// Errors wrap one of the Err* kinds (errors.Is) and a precise message; a
// request that fails validation writes nothing.
package vectordb
