package pipeline

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/troupe-go/troupe/route"
)

// A Checkpoint is what a StateCheckpointer stores in one step: the
// position a resumable source restarts from, and the state of every
// keyed stage (by stage name, encoded by its Codec) as of that position:
// the effect of every item before Pos and of none after it.
type Checkpoint struct {
	Pos   uint64
	State map[string][]byte
}

// A StateCheckpointer is a Checkpointer that also stores the state of the
// pipeline's keyed stages, together with the position. When the only
// resumable source of a pipeline with keyed stages has one, the pipeline
// saves checkpoints with SaveCheckpoint (and never Save), restores the
// keyed stages from LoadCheckpoint when it starts, and counts an item
// done once its effect is in a saved state (see Keyed). FileCheckpointer
// is one; a database-backed one must meet the same guarantees: see
// docs/architecture.md, "State checkpoints".
type StateCheckpointer interface {
	Checkpointer
	// LoadCheckpoint returns the last checkpoint saved, or ok false if
	// there is none. A position saved by Save comes back with no state.
	LoadCheckpoint(ctx context.Context) (c Checkpoint, ok bool, err error)
	// SaveCheckpoint stores c atomically and durably: after it returns, a
	// load (in this process or the next) returns c or a later
	// checkpoint, never c's position with another state or part of c.
	// c.State must not be kept: the pipeline may reuse it.
	SaveCheckpoint(ctx context.Context, c Checkpoint) error
}

// ErrState is wrapped by the error of a resumable source whose checkpoint
// holds a state the pipeline cannot restore: the state of a keyed stage
// it does not have, a state its Codec cannot decode, or state for a
// pipeline that does not keep state in its checkpoints.
var ErrState = errors.New("pipeline: checkpoint state does not fit the pipeline")

// A Codec encodes values of type V for a checkpoint. Encode is called
// on the stage's worker goroutine, with the worker stopped, so it may
// read what the value points to; Decode is called once per saved value,
// when the pipeline starts.
type Codec[V any] interface {
	Encode(v V) ([]byte, error)
	Decode(data []byte, v *V) error
}

// GobCodec returns a Codec that uses encoding/gob: the default of
// KeyedSpec.Codec. It keeps Go types exactly (integer sizes, struct and
// array map keys) but, like gob, sees only exported struct fields and
// fails on values it cannot encode (functions, channels, a struct with
// no exported field), which the pipeline reports as a fatal error at the
// first checkpoint.
func GobCodec[V any]() Codec[V] { return gobCodec[V]{} }

// JSONCodec returns a Codec that uses encoding/json: readable state, with
// map keys that are strings, integers or encoding.TextMarshalers.
func JSONCodec[V any]() Codec[V] { return jsonCodec[V]{} }

type gobCodec[V any] struct{}

func (gobCodec[V]) Encode(v V) ([]byte, error) {
	var b bytes.Buffer
	err := gob.NewEncoder(&b).Encode(v)
	return b.Bytes(), err
}

func (gobCodec[V]) Decode(data []byte, v *V) error {
	return gob.NewDecoder(bytes.NewReader(data)).Decode(v)
}

type jsonCodec[V any] struct{}

func (jsonCodec[V]) Encode(v V) ([]byte, error)     { return json.Marshal(v) }
func (jsonCodec[V]) Decode(data []byte, v *V) error { return json.Unmarshal(data, v) }

// stateCoord takes the state checkpoints of a pipeline. It is filled in
// while building (under Pipeline.mu) and read-only once the pipeline
// started, except for the last saved state, owned by the checkpoint
// goroutine.
//
// The algorithm (an aligned checkpoint, made simple by the tracker): at
// each checkpoint interval it
//
//  1. sets tracker.pausing, so keyed stages put off their timed flushes;
//  2. pauses the resumable source between two items: it takes the
//     source's lock, sends what the source holds, and notes the
//     position P where the input goes on;
//  3. waits until no tracked item is outstanding. A keyed stage counts
//     an item done once folded into its state, and the outputs of a
//     flush are tracked (tracker.hold) until done. With the source
//     paused, every item before P then has its effect in a keyed state
//     or out of a sink (or is filtered or dead-lettered), and no item
//     after P was read;
//  4. asks each keyed worker for its state (a message its actor handles
//     between two batches) and encodes it there;
//  5. waits again until nothing is outstanding (a flush that started
//     before step 1 finished before its worker answered, and its outputs
//     must be done), saves (P, states) with SaveCheckpoint, and lets the
//     source go on.
//
// If a step does not finish within the pause budget (a parked retry, a
// slow sink, a worker restarting) the round is given up: the source goes
// on and the next interval tries again. An aborted run saves nothing
// more; a clean end saves the final position with empty states, since
// the final flush emitted everything.
type stateCoord struct {
	sources []Checkpointer // of the resumable sources
	keyed   []keyedSnap    // in build order

	lastState map[string][]byte // the state saved last (nil: none); owned by the checkpoint goroutine
}

// keyedSnap is a keyed stage's side of a state checkpoint.
type keyedSnap interface {
	stageName() string
	// restore installs a saved state before the source emits anything.
	restore(data []byte) error
	// snapshot returns the stage's encoded state, collected from its
	// workers; an error is *encodeError (fatal) or errSnapTimeout.
	snapshot(ctx context.Context, stop <-chan struct{}, d time.Duration) ([]byte, error)
}

// minPause is the least time a checkpoint round may hold the source.
const minPause = 50 * time.Millisecond

var errSnapTimeout = errors.New("pipeline: state checkpoint timed out")

type encodeError struct{ err error }

func (e *encodeError) Error() string { return "encoding the state for a checkpoint: " + e.err.Error() }
func (e *encodeError) Unwrap() error { return e.err }

// enabled reports whether the pipeline takes state checkpoints: it has
// keyed stages and one resumable source, whose Checkpointer is a
// StateCheckpointer.
func (c *stateCoord) enabled() bool {
	if len(c.sources) != 1 || len(c.keyed) == 0 {
		return false
	}
	_, ok := c.sources[0].(StateCheckpointer)
	return ok
}

// loadFrom loads the checkpoint of a resumable source with cp and, with
// state checkpoints, restores the keyed stages from it. It runs on the
// source goroutine before the source emits anything.
func (p *Pipeline) loadFrom(ctx context.Context, cp Checkpointer) (uint64, error) {
	sc, ok := cp.(StateCheckpointer)
	if !ok {
		pos, _, err := cp.Load(ctx)
		return pos, err
	}
	c, ok, err := sc.LoadCheckpoint(ctx)
	if err != nil || !ok {
		return 0, err
	}
	names := slices.Sorted(maps.Keys(c.State))
	co := &p.ckpt
	if !co.enabled() {
		if len(names) > 0 {
			return 0, fmt.Errorf("%w: it holds the state of keyed stages %s, and this pipeline does not keep state in its checkpoints (it needs keyed stages and one resumable source)",
				ErrState, strings.Join(names, ", "))
		}
		return c.Pos, nil
	}
	byName := map[string]keyedSnap{}
	for _, k := range co.keyed {
		byName[k.stageName()] = k
	}
	for _, name := range names {
		k := byName[name]
		if k == nil {
			return 0, fmt.Errorf("%w: it holds the state of keyed stage %q, which this pipeline does not have", ErrState, name)
		}
		if err := k.restore(c.State[name]); err != nil {
			return 0, fmt.Errorf("%w: keyed stage %q: %w", ErrState, name, err)
		}
	}
	co.lastState = c.State
	return c.Pos, nil
}

// round takes one state checkpoint (see stateCoord).
func (c *stateCoord) round(ctx context.Context, t *tracker) {
	p := t.p
	t.mu.Lock()
	var src *trackedSource
	if len(t.srcs) == 1 {
		src = t.srcs[0]
	}
	t.mu.Unlock()
	if src == nil || p.stopping.Load() {
		return // the source has not loaded its checkpoint yet, or the run ends
	}
	budget := max(p.cfg.checkpoint, minPause)
	stop := p.srcCtx.Done()
	t.pausing.Store(true)
	defer t.pausing.Store(false)
	pos, ok := src.pause(ctx, stop)
	if !ok {
		return
	}
	defer src.resume()
	if !t.waitIdle(ctx, stop, budget) {
		return
	}
	state := make(map[string][]byte, len(c.keyed))
	for _, k := range c.keyed {
		data, err := k.snapshot(ctx, stop, budget)
		var ee *encodeError
		if errors.As(err, &ee) {
			p.fail(&StageError{Stage: k.stageName(), Err: err})
			return
		}
		if err != nil {
			return
		}
		state[k.stageName()] = data
	}
	if !t.waitIdle(ctx, stop, budget) {
		return
	}
	if src.has && (pos < src.saved || pos == src.saved && sameState(state, c.lastState)) {
		return
	}
	c.save(ctx, t, src, Checkpoint{Pos: pos, State: state})
}

// final saves the position a clean run ended at, with empty states: the
// end-of-stream flush emitted every key, and the items are out of the
// sinks. An aborted run saves nothing: its last checkpoint stands.
func (c *stateCoord) final(ctx context.Context, t *tracker) {
	if t.p.cause() != nil {
		return
	}
	t.mu.Lock()
	srcs := append([]*trackedSource(nil), t.srcs...)
	t.mu.Unlock()
	for _, s := range srcs {
		pos := t.position(s)
		if s.has && (pos < s.saved || pos == s.saved && len(c.lastState) == 0) {
			continue
		}
		c.save(ctx, t, s, Checkpoint{Pos: pos})
	}
}

func (c *stateCoord) save(ctx context.Context, t *tracker, s *trackedSource, cp Checkpoint) {
	sc := s.cp.(StateCheckpointer)
	if err := sc.SaveCheckpoint(ctx, cp); err != nil {
		t.p.cfg.log.Warn("pipeline: checkpoint save failed", zap.String("source", s.name), zap.Error(err))
		return
	}
	s.saved, s.has = cp.Pos, true
	c.lastState = cp.State
	s.committed.Store(cp.Pos)
	s.committedOK.Store(true)
}

func sameState(a, b map[string][]byte) bool {
	return maps.EqualFunc(a, b, bytes.Equal)
}

// pause takes the source's lock (until resume), sends the batch it is
// filling, and returns where its input goes on. It fails if the source
// ended or is stopping, or if ctx or stop end first.
func (s *source[T]) pause(ctx context.Context, stop <-chan struct{}) (uint64, bool) {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return 0, false
	case <-stop:
		return 0, false
	}
	if s.closed.Load() || s.p.stopping.Load() {
		s.unlock()
		return 0, false
	}
	if err := s.flush(true); err != nil {
		s.unlock()
		return 0, false
	}
	return s.next, true
}

// keyRouter is ByKey(key), also returning the key hash it routes by: key
// k goes to worker hash(k) % workers (see toStage.add), which is where a
// restored state must go.
func keyRouter[T any, K comparable](key func(T) K) (Router, func(K) uint64) {
	seed := maphash.MakeSeed()
	h := func(k K) uint64 { return maphash.Comparable(seed, k) }
	return route.ByHash(func(v T) uint64 { return h(key(v)) }), h
}

// snapGen is the timer generation of a snapshot request to a keyed
// worker (real generations count up from 0).
const snapGen = ^uint64(0)

type snapReq struct{ out chan snapReply }

type snapReply struct {
	i    int
	data []byte
	err  error
}

// keyedCkpt is the checkpoint side of one keyed stage: its codec, its
// key hash, and its workers' states (set at Start, read-only after).
type keyedCkpt[T any, K comparable, S any] struct {
	name    string
	codec   Codec[map[K]S]
	hash    func(K) uint64
	mu      sync.Mutex // guards the workers' pend
	workers []*keyedState[T, K, S]
}

func (k *keyedCkpt[T, K, S]) stageName() string { return k.name }

// snapshot asks every worker for its state, waits for the answers and
// frames them: a uvarint count, then each worker's encoding, length
// first.
func (k *keyedCkpt[T, K, S]) snapshot(ctx context.Context, stop <-chan struct{}, d time.Duration) ([]byte, error) {
	n := len(k.workers)
	r := &snapReq{out: make(chan snapReply, n)}
	for _, ks := range k.workers {
		ks.req.Store(r)
		if s := ks.slot.Load(); s != nil {
			s.tick(snapGen)
		}
	}
	defer func() {
		for _, ks := range k.workers {
			ks.req.CompareAndSwap(r, nil)
		}
	}()
	blobs := make([][]byte, n)
	tm := time.NewTimer(d)
	defer tm.Stop()
	for range n {
		select {
		case rep := <-r.out:
			if rep.err != nil {
				return nil, &encodeError{rep.err}
			}
			blobs[rep.i] = rep.data
		case <-tm.C:
			return nil, errSnapTimeout
		case <-ctx.Done():
			return nil, errSnapTimeout
		case <-stop:
			return nil, errSnapTimeout
		}
	}
	out := binary.AppendUvarint(nil, uint64(n))
	for _, b := range blobs {
		out = binary.AppendUvarint(out, uint64(len(b)))
		out = append(out, b...)
	}
	return out, nil
}

// restore decodes a saved state and hands each key to the worker that its
// items reach in this run (the worker count may have changed).
func (k *keyedCkpt[T, K, S]) restore(data []byte) error {
	n := len(k.workers)
	if n == 0 {
		return nil
	}
	pend := make([]map[K]S, n)
	seen := map[K]bool{}
	cnt, m := binary.Uvarint(data)
	if m <= 0 {
		return errors.New("bad framing")
	}
	data = data[m:]
	for range cnt {
		l, m := binary.Uvarint(data)
		if m <= 0 || uint64(len(data)-m) < l {
			return errors.New("bad framing")
		}
		var states map[K]S
		if err := k.codec.Decode(data[m:m+int(l)], &states); err != nil {
			return err
		}
		data = data[m+int(l):]
		for key, s := range states {
			if seen[key] {
				return fmt.Errorf("key %v saved twice", key)
			}
			seen[key] = true
			i := int(k.hash(key) % uint64(n))
			if pend[i] == nil {
				pend[i] = map[K]S{}
			}
			pend[i][key] = s
		}
	}
	if len(data) != 0 {
		return errors.New("bad framing")
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for i, ks := range k.workers {
		ks.pend = pend[i]
		ks.hasPend.Store(len(pend[i]) > 0)
	}
	return nil
}

// adopt takes the restored states handed to the worker, on its goroutine.
func (ks *keyedState[T, K, S]) adopt() {
	if ks.ck == nil || !ks.hasPend.Load() {
		return
	}
	ks.ck.mu.Lock()
	pend := ks.pend
	ks.pend = nil
	ks.hasPend.Store(false)
	ks.ck.mu.Unlock()
	for key, s := range pend {
		if ks.states[key] == nil {
			ks.states[key] = &keyEntry[S]{s: s}
		}
	}
}

// answer handles a snapshot request, on the worker's goroutine: it
// encodes the worker's states as of now (shallow copies of the S values).
func (ks *keyedState[T, K, S]) answer() {
	r := ks.req.Swap(nil)
	if r == nil {
		return
	}
	ks.adopt()
	m := make(map[K]S, len(ks.states))
	for key, e := range ks.states {
		m[key] = e.s
	}
	data, err := ks.ck.codec.Encode(m)
	r.out <- snapReply{i: ks.idx, data: data, err: err} // buffered for every worker
}
