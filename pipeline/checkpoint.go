package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// A Checkpointer stores the position a resumable source restarts from.
// Save is called from one goroutine at a time, with increasing positions
// as the pipeline's low watermark advances; Load is called once, when the
// source starts.
type Checkpointer interface {
	// Load returns the saved position, or ok false if there is none.
	Load(ctx context.Context) (pos uint64, ok bool, err error)
	// Save stores pos durably: after it returns, a Load (in this process
	// or the next) returns pos or a later position.
	Save(ctx context.Context, pos uint64) error
}

// A FileCheckpointer is a Checkpointer that keeps the position in one
// file. Save writes a temporary file in the same directory, syncs it,
// renames it over the file and syncs the directory, so the file always
// holds a complete position, the old one or the new one, even after a
// crash.
type FileCheckpointer struct {
	path string
	mu   sync.Mutex // serialises Save
}

// NewFileCheckpointer returns a FileCheckpointer for the file at path.
// The directory must exist; the file is created by the first Save.
func NewFileCheckpointer(path string) *FileCheckpointer { return &FileCheckpointer{path: path} }

const checkpointHeader = "troupe-checkpoint v1 "

// Load reads the position; a missing file means no checkpoint.
func (f *FileCheckpointer) Load(ctx context.Context) (uint64, bool, error) {
	data, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	s := strings.TrimSuffix(string(data), "\n")
	if !strings.HasPrefix(s, checkpointHeader) {
		return 0, false, fmt.Errorf("pipeline: checkpoint %s: bad format", f.path)
	}
	pos, err := strconv.ParseUint(strings.TrimPrefix(s, checkpointHeader), 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("pipeline: checkpoint %s: %w", f.path, err)
	}
	return pos, true, nil
}

// Save writes pos atomically and durably (temporary file, fsync, rename,
// directory fsync). It returns ctx.Err() without writing if ctx already
// ended.
func (f *FileCheckpointer) Save(ctx context.Context, pos uint64) error {
	if err := orBackground(ctx).Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	dir, base := filepath.Split(f.path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, base+".tmp*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	_, err = tmp.WriteString(checkpointHeader + strconv.FormatUint(pos, 10) + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(name, f.path)
	}
	if err != nil {
		_ = os.Remove(name)
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// seqDelta changes the number of live descendants of a source item.
type seqDelta struct {
	seq uint64
	d   int64
}

// adjBuf collects a producer's seqDeltas and hands them to the tracker in
// bulk. A nil *adjBuf (no checkpointing) ignores everything. It must be
// flushed before the outputs it accounts for are sent, so that a
// descendant can never be counted done before it was counted alive.
type adjBuf struct {
	t *tracker
	d []seqDelta
}

func (a *adjBuf) add(seq uint64, d int64) {
	if a != nil && d != 0 {
		a.d = append(a.d, seqDelta{seq, d})
	}
}

func (a *adjBuf) flush() {
	if a != nil && len(a.d) > 0 {
		a.t.apply(a.d)
		a.d = a.d[:0]
	}
}

func (p *Pipeline) newAdj() *adjBuf {
	if p.tracker == nil {
		return nil
	}
	return &adjBuf{t: p.tracker}
}

// A trackedBatch is a run of consecutive items of a resumable source:
// sequence numbers [lo, hi) and positions [posLo, posNext), where posLo
// is the next position of the item before the batch (or the source's
// from) and posNext that of its last item. remaining
// counts the live items descending from it (an item that is flat-mapped
// into n outputs counts n, one that is filtered or delivered 0). While
// the batch is open (still filling) it also counts its unused sequence
// numbers, so it cannot complete early.
type trackedBatch struct {
	lo, hi         uint64
	remaining      int64
	src            *trackedSource
	posLo, posNext uint64
}

type trackedSource struct {
	name  string
	cp    Checkpointer
	last  uint64 // next position of the last closed batch; guarded by tracker.mu
	saved uint64 // owned by the committing goroutine
	has   bool

	committed   atomic.Uint64 // saved, for Observe
	committedOK atomic.Bool   // has, for Observe
}

// tracker computes each resumable source's low watermark: the next
// position of the last item before its oldest batch holding an item
// that is not yet delivered, filtered or dead-lettered (that batch's
// posLo). Items dead-lettered because the pipeline stopped do not count
// as done.
type tracker struct {
	p     *Pipeline
	mu    sync.Mutex // guards everything below
	ring  []*trackedBatch
	head  int // ring[head:] are outstanding, sorted by lo
	zeros int // completed batches behind the head
	srcs  []*trackedSource
}

func newTracker(p *Pipeline) *tracker { return &tracker{p: p} }

func (t *tracker) addSource(s *trackedSource) {
	t.mu.Lock()
	t.srcs = append(t.srcs, s)
	t.mu.Unlock()
}

// open starts a batch of up to size items whose first item starts at
// posLo.
func (t *tracker) open(src *trackedSource, size int, posLo uint64) *trackedBatch {
	t.mu.Lock()
	defer t.mu.Unlock()
	lo := t.p.seq.Add(uint64(size)) - uint64(size)
	tb := &trackedBatch{lo: lo, hi: lo + uint64(size), remaining: int64(size), src: src, posLo: posLo}
	t.ring = append(t.ring, tb)
	return tb
}

// close ends a batch of n items whose next position is posNext.
func (t *tracker) close(tb *trackedBatch, n int, posNext uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	unused := int64(tb.hi-tb.lo) - int64(n)
	tb.hi = tb.lo + uint64(n)
	tb.posNext = posNext
	tb.src.last = posNext
	t.change(tb, -unused)
	t.popLocked()
}

func (t *tracker) change(tb *trackedBatch, d int64) {
	was := tb.remaining
	tb.remaining += d
	if was != 0 && tb.remaining == 0 {
		t.zeros++
	} else if was == 0 && tb.remaining != 0 {
		t.zeros--
	}
}

func (t *tracker) apply(ds []seqDelta) {
	t.mu.Lock()
	defer t.mu.Unlock()
	live := t.ring[t.head:]
	for _, d := range ds {
		i := sort.Search(len(live), func(i int) bool { return live[i].lo > d.seq }) - 1
		if i < 0 || d.seq >= live[i].hi {
			continue // not a tracked item (or its batch is long done)
		}
		t.change(live[i], d.d)
	}
	t.popLocked()
}

func (t *tracker) popLocked() {
	for t.head < len(t.ring) && t.ring[t.head].remaining == 0 {
		t.ring[t.head] = nil
		t.head++
		t.zeros--
	}
	live := len(t.ring) - t.head
	if t.head > 1024 && t.head > live || t.zeros > 1024 && t.zeros > live/2 {
		keep := make([]*trackedBatch, 0, live-t.zeros+16)
		for _, tb := range t.ring[t.head:] {
			if tb.remaining != 0 {
				keep = append(keep, tb)
			}
		}
		t.ring, t.head, t.zeros = keep, 0, 0
	}
}

// position returns src's low watermark: where its first undone item
// starts, or the next position of its last item when all are done.
func (t *tracker) position(src *trackedSource) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, tb := range t.ring[t.head:] {
		if tb.src == src && tb.remaining > 0 {
			return tb.posLo
		}
	}
	return src.last
}

// commitAll saves every source's low watermark that moved.
func (t *tracker) commitAll(ctx context.Context) {
	t.mu.Lock()
	srcs := append([]*trackedSource(nil), t.srcs...)
	t.mu.Unlock()
	for _, s := range srcs {
		pos := t.position(s)
		if s.has && pos <= s.saved {
			continue // a replayed item can move the watermark back: keep the saved one
		}
		if err := s.cp.Save(ctx, pos); err != nil {
			t.p.cfg.log.Warn("pipeline: checkpoint save failed", zap.String("source", s.name), zap.Error(err))
			continue
		}
		s.saved, s.has = pos, true
		s.committed.Store(pos)
		s.committedOK.Store(true)
	}
}

// commitLoop saves the watermarks every interval until ctx ends.
func (t *tracker) commitLoop(ctx context.Context, every time.Duration) {
	tk := time.NewTicker(every)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
			t.commitAll(ctx)
		}
	}
}
