package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
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
// source starts. A Checkpointer that is also a StateCheckpointer is used
// through LoadCheckpoint and SaveCheckpoint instead when the pipeline
// keeps keyed state in its checkpoints.
type Checkpointer interface {
	// Load returns the saved position, or ok false if there is none.
	Load(ctx context.Context) (pos uint64, ok bool, err error)
	// Save stores pos durably: after it returns, a Load (in this process
	// or the next) returns pos or a later position.
	Save(ctx context.Context, pos uint64) error
}

// A FileCheckpointer is a Checkpointer that keeps the position in one
// file, and a StateCheckpointer that keeps the state of keyed stages with
// it. Save and SaveCheckpoint write a temporary file in the same
// directory, sync it, rename it over the file and sync the directory, so
// the file always holds a complete checkpoint, the old one or the new
// one, even after a crash. A checkpoint with state ends with a CRC-32 of
// what precedes it, so a file damaged after it was written is reported,
// not read.
type FileCheckpointer struct {
	path string
	mu   sync.Mutex // serialises Save and SaveCheckpoint
}

// NewFileCheckpointer returns a FileCheckpointer for the file at path.
// The directory must exist; the file is created by the first save.
func NewFileCheckpointer(path string) *FileCheckpointer { return &FileCheckpointer{path: path} }

const (
	checkpointHeader   = "troupe-checkpoint v1 "
	checkpointHeaderV2 = "troupe-checkpoint v2 "
)

// Load reads the position; a missing file means no checkpoint. The
// position of a checkpoint with state is returned without its state.
func (f *FileCheckpointer) Load(ctx context.Context) (uint64, bool, error) {
	c, ok, err := f.LoadCheckpoint(ctx)
	return c.Pos, ok, err
}

// LoadCheckpoint reads the position and the state saved with it (none
// for a position written by Save); a missing file means no checkpoint.
func (f *FileCheckpointer) LoadCheckpoint(ctx context.Context) (Checkpoint, bool, error) {
	data, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return Checkpoint{}, false, nil
	}
	if err != nil {
		return Checkpoint{}, false, err
	}
	if s, ok := strings.CutPrefix(string(data), checkpointHeader); ok {
		pos, err := strconv.ParseUint(strings.TrimSuffix(s, "\n"), 10, 64)
		if err != nil {
			return Checkpoint{}, false, fmt.Errorf("pipeline: checkpoint %s: %w", f.path, err)
		}
		return Checkpoint{Pos: pos}, true, nil
	}
	c, err := decodeCheckpoint(data)
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("pipeline: checkpoint %s: %w", f.path, err)
	}
	return c, true, nil
}

// Save writes pos atomically and durably (temporary file, fsync, rename,
// directory fsync), with no state. It returns ctx.Err() without writing
// if ctx already ended.
func (f *FileCheckpointer) Save(ctx context.Context, pos uint64) error {
	return f.write(ctx, []byte(checkpointHeader+strconv.FormatUint(pos, 10)+"\n"))
}

// SaveCheckpoint writes c, its position and its state together, in the
// same way as Save: a later load returns all of c or all of the
// checkpoint before it.
func (f *FileCheckpointer) SaveCheckpoint(ctx context.Context, c Checkpoint) error {
	return f.write(ctx, encodeCheckpoint(c))
}

func (f *FileCheckpointer) write(ctx context.Context, data []byte) error {
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
	_, err = tmp.Write(data)
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

// encodeCheckpoint writes the v2 format:
//
//	troupe-checkpoint v2 POS N\n
//	N times, in name order: LEN(NAME) LEN(DATA)\n NAME DATA \n
//	crc32 HEX\n   (IEEE, of everything before this line)
func encodeCheckpoint(c Checkpoint) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s%d %d\n", checkpointHeaderV2, c.Pos, len(c.State))
	for _, name := range slices.Sorted(maps.Keys(c.State)) {
		data := c.State[name]
		fmt.Fprintf(&b, "%d %d\n%s", len(name), len(data), name)
		b.Write(data)
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "crc32 %08x\n", crc32.ChecksumIEEE(b.Bytes()))
	return b.Bytes()
}

var errBadCheckpoint = errors.New("bad format")

func decodeCheckpoint(data []byte) (Checkpoint, error) {
	var c Checkpoint
	i := bytes.LastIndex(data, []byte("crc32 "))
	if !bytes.HasPrefix(data, []byte(checkpointHeaderV2)) || i < 0 {
		return c, errBadCheckpoint
	}
	if string(data[i:]) != fmt.Sprintf("crc32 %08x\n", crc32.ChecksumIEEE(data[:i])) {
		return c, fmt.Errorf("%w: checksum mismatch", errBadCheckpoint)
	}
	r := data[len(checkpointHeaderV2):i]
	line := func() (a, b uint64, err error) {
		j := bytes.IndexByte(r, '\n')
		if j < 0 {
			return 0, 0, errBadCheckpoint
		}
		as, bs, ok := strings.Cut(string(r[:j]), " ")
		r = r[j+1:]
		if !ok {
			return 0, 0, errBadCheckpoint
		}
		if a, err = strconv.ParseUint(as, 10, 64); err == nil {
			b, err = strconv.ParseUint(bs, 10, 64)
		}
		if err != nil {
			return 0, 0, fmt.Errorf("%w: %w", errBadCheckpoint, err)
		}
		return a, b, nil
	}
	pos, n, err := line()
	if err != nil {
		return c, err
	}
	c.Pos = pos
	for range n {
		nl, dl, err := line()
		if err != nil {
			return c, err
		}
		if nl+dl+1 > uint64(len(r)) || r[nl+dl] != '\n' {
			return c, errBadCheckpoint
		}
		if c.State == nil {
			c.State = map[string][]byte{}
		}
		name := string(r[:nl])
		if _, dup := c.State[name]; dup {
			return c, fmt.Errorf("%w: state %q twice", errBadCheckpoint, name)
		}
		c.State[name] = bytes.Clone(r[nl : nl+dl])
		r = r[nl+dl+1:]
	}
	if len(r) != 0 {
		return c, errBadCheckpoint
	}
	return c, nil
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

	// pause stops the source between two batches for a state checkpoint
	// and returns where its input goes on (false if it ended or ctx did);
	// resume lets it go on. Set before addSource.
	pause  func(ctx context.Context, stop <-chan struct{}) (uint64, bool)
	resume func()
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
	idle  chan struct{} // closed (and cleared) when no batch is outstanding

	// pausing is set while a state checkpoint is taken: keyed stages
	// put off their timed flushes.
	pausing atomic.Bool
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
	if t.idle != nil && t.head == len(t.ring) {
		close(t.idle)
		t.idle = nil
	}
}

// hold returns a fresh sequence number, not of any source, that counts n
// live items: the outputs of a keyed stage's flush in a pipeline with
// state checkpoints (see stateCoord), which carry it so that a
// checkpoint waits until they are done.
func (t *tracker) hold(n int64) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	lo := t.p.seq.Add(1) - 1
	t.ring = append(t.ring, &trackedBatch{lo: lo, hi: lo + 1, remaining: n})
	return lo
}

// waitIdle waits until no batch is outstanding (every item of every
// resumable source, and every held flush output, is done), at most d or
// until ctx or stop end. It reports whether that happened.
func (t *tracker) waitIdle(ctx context.Context, stop <-chan struct{}, d time.Duration) bool {
	t.mu.Lock()
	if t.head == len(t.ring) {
		t.mu.Unlock()
		return true
	}
	ch := make(chan struct{})
	t.idle = ch
	t.mu.Unlock()
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ch:
		return true
	case <-tm.C:
	case <-ctx.Done():
	case <-stop:
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.idle == ch {
		t.idle = nil
	}
	return t.head == len(t.ring)
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

// commitAll saves every source's low watermark that moved. With state
// checkpoints it saves only at the end of a clean run (see
// stateCoord.final).
func (t *tracker) commitAll(ctx context.Context) {
	if t.p.ckpt.enabled() {
		t.p.ckpt.final(ctx, t)
		return
	}
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
			if t.p.ckpt.enabled() {
				t.p.ckpt.round(ctx, t)
			} else {
				t.commitAll(ctx)
			}
		}
	}
}
