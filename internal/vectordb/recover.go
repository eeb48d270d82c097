package vectordb

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// recover loads the newest usable checkpoint into an empty DB and replays
// the log after it.
func (db *DB) recover() error {
	db.split.reset()
	dir := filepath.Join(db.dir, ckptDir)
	names, err := manifests(dir)
	if err != nil {
		return err
	}
	for _, name := range names {
		m, colls, err := db.loadCheckpoint(dir, name)
		if err != nil {
			// The log is kept back to the previous checkpoint, so an older
			// one still recovers everything (replaying more of the log).
			db.log.Error("checkpoint unusable, trying an older one", "manifest", name, "err", err)
			continue
		}
		db.install(m, colls)
		db.log.Info("checkpoint loaded", "manifest", name, "lsn", m.lsn, "collections", len(colls))
		break
	}
	if err := db.wal.Replay(db.applied.Load(), db.replayOne); err != nil {
		return fmt.Errorf("replaying the log after record %d: %w", db.applied.Load(), err)
	}
	return nil
}

func (db *DB) loadCheckpoint(dir, name string) (*manifest, []*collection, error) {
	m, err := readManifest(filepath.Join(dir, name))
	if err != nil {
		return nil, nil, err
	}
	var colls []*collection
	for _, files := range m.colls {
		if len(files) == 0 {
			return nil, nil, fmt.Errorf("%w: empty file list", errCorrupt)
		}
		c, lsn, err := readSnap(dir, files[0], db.log.Warn)
		if err != nil {
			for _, c := range colls {
				c.close()
			}
			return nil, nil, err
		}
		c.ckptLSN, c.ckptFiles = lsn, files
		colls = append(colls, c)
	}
	return m, colls, nil
}

// install makes a loaded checkpoint the DB's state (before any replay).
func (db *DB) install(m *manifest, colls []*collection) {
	db.mu.Lock()
	for _, c := range db.byID {
		defer c.close()
	}
	db.colls = map[string]*collection{}
	db.byID = map[int64]*collection{}
	for _, c := range colls {
		db.colls[c.info.Schema.Name] = c
		db.byID[c.info.ID] = c
		c.lastLSN = c.ckptLSN
		for _, fs := range c.fields {
			if fs.index != nil {
				fs.index.log = db.log
				// Tombstones of rows already in the graph are re-applied:
				// the index file may predate some deletes.
				for r := range fs.index.indexed.Load() {
					if c.deleted.has(r) {
						_ = fs.index.ann.Delete(r)
					}
				}
				fs.index.start(c, fs)
			}
		}
	}
	db.nextID, db.lastTS = m.nextID, m.lastTS
	db.autoID.Store(max(db.autoID.Load(), m.autoID))
	db.mu.Unlock()
	db.applied.Store(m.lsn)
	db.ckptLSN.Store(m.lsn)
}

// Checkpoint writes a checkpoint of the current state now and truncates
// the log behind the previous one. Only a primary checkpoints.
func (db *DB) Checkpoint(ctx context.Context) error {
	if err := db.writable(); err != nil {
		return err
	}
	p := &pending{ckpt: true, done: make(chan struct{})}
	if err := db.enqueue(ctx, p); err != nil {
		return err
	}
	<-p.done
	return p.err
}

// captureCheckpoint runs on the committer between groups, so the state is
// exactly that after record db.applied.
func (db *DB) captureCheckpoint() *ckptJob {
	job := &ckptJob{lsn: db.applied.Load(), epoch: db.wal.Epoch()}
	db.mu.RLock()
	job.m = manifest{lsn: job.lsn, epoch: job.epoch, nextID: db.nextID, lastTS: db.lastTS, autoID: db.autoID.Load()}
	for _, c := range db.byID {
		c.mu.RLock()
		if c.lastLSN <= c.ckptLSN && c.ckptFiles != nil && !c.indexGrew() {
			job.colls = append(job.colls, ckptColl{c: c, reuse: c.ckptFiles})
		} else {
			job.colls = append(job.colls, ckptColl{c: c, snap: c.snapshot()})
		}
		c.mu.RUnlock()
	}
	db.mu.RUnlock()
	return job
}

type ckptJob struct {
	lsn, epoch uint64
	m          manifest
	colls      []ckptColl
}

type ckptColl struct {
	c     *collection
	snap  collSnap
	reuse []string
}

// writeCheckpoint writes the files of a captured checkpoint, then the
// manifest, then truncates the log behind the previous checkpoint (kept as
// a fallback should the new one prove unreadable) and deletes files no
// manifest still needs.
func (db *DB) writeCheckpoint(job *ckptJob) error {
	dir := filepath.Join(db.dir, ckptDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i := range job.colls {
		cc := &job.colls[i]
		if cc.reuse != nil {
			job.m.colls = append(job.m.colls, cc.reuse)
			continue
		}
		files, err := writeSnap(dir, &cc.snap, job.lsn, job.epoch)
		if err != nil {
			return err
		}
		cc.reuse = files
		job.m.colls = append(job.m.colls, files)
	}
	if err := writeManifest(dir, &job.m); err != nil {
		return err
	}
	for _, cc := range job.colls {
		cc.c.mu.Lock()
		cc.c.ckptLSN, cc.c.ckptFiles = job.lsn, cc.reuse
		cc.c.ckptIndexed = cc.c.indexedSum()
		cc.c.mu.Unlock()
	}
	prev := db.ckptLSN.Swap(job.lsn)
	if prev > 0 {
		if err := db.wal.TruncateBefore(prev); err != nil {
			return fmt.Errorf("truncating the log behind record %d: %w", prev, err)
		}
	}
	db.gcCheckpoints(dir, job.epoch)
	return nil
}

// gcCheckpoints deletes manifests older than the newest two, and files no
// remaining manifest names, but only files written at epoch <= ours.
func (db *DB) gcCheckpoints(dir string, epoch uint64) {
	names, err := manifests(dir)
	if err != nil || len(names) < 2 {
		return
	}
	keep := map[string]bool{}
	for i, name := range names {
		if i < 2 {
			keep[name] = true
			if m, err := readManifest(filepath.Join(dir, name)); err == nil {
				for _, files := range m.colls {
					for _, f := range files {
						keep[f] = true
					}
				}
			}
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		n := e.Name()
		fe, ok := fileEpoch(strings.TrimSuffix(n, ".tmp"))
		if keep[n] || !ok || fe > epoch {
			continue
		}
		if err := os.Remove(filepath.Join(dir, n)); err != nil {
			db.log.Warn("checkpoint cleanup", "file", n, "err", err)
		}
	}
}
