package pipeline

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/troupe-go/troupe/actor"
)

// Chunk adds a stage that groups items into slices of up to size items.
// Each worker fills its own group and passes it on when it is full, when
// maxWait has passed since its first item (0: no time limit), or at the
// end of stream. Items waiting in a group count in InFlight; an abort
// dead-letters them (DeadStopped). With WithOrdered, the groups that fill
// up come out in the input order of the items that filled them; a group
// passed on by maxWait comes out at once, and the partial groups held at
// the end of stream come out after all the others.
func Chunk[T any](in *Stream[T], name string, size int, maxWait time.Duration, opts ...StageOption) *Stream[[]T] {
	var bad error
	if size < 1 || maxWait < 0 {
		bad = invalidf("chunk size %d, max wait %v", size, maxWait)
	}
	return workerStage(in, name, "chunk", opts, bad, false, func(st *stage, w *worker[T, []T]) {
		g := &group[T]{size: size, wait: maxWait}
		w.step = func(ctx context.Context, w *worker[T, []T], e *envelope[T]) error {
			g.add(w, e)
			if len(g.items) >= size {
				g.emit(w)
			}
			return nil
		}
		w.onEOS = func(ctx context.Context, w *worker[T, []T]) error {
			g.emit(w)
			g.stop()
			return nil
		}
		w.onTick = func(ctx actor.Context, w *worker[T, []T], gen uint64) error {
			if gen == g.gen && len(g.items) > 0 {
				g.emit(w)
				return w.send(ctx, true)
			}
			return nil
		}
		w.onStart = func(ctx actor.Context, w *worker[T, []T], s *slot[T]) {
			g.slot = s
			if len(g.items) > 0 {
				g.arm()
			}
		}
		w.onSweep = func(w *worker[T, []T]) {
			g.stop()
			for i, v := range g.items {
				st.deadLetter(g.seqs[i], v, DeadStopped, 0, nil, nil)
			}
			g.items, g.seqs = nil, nil
		}
	})
}

// group is the pending group of one Batch worker.
type group[T any] struct {
	size    int
	wait    time.Duration
	items   []T
	seqs    []uint64
	carrier uint64 // the smallest seq in the group; the output carries it
	gen     uint64 // incremented at each emit; stale ticks are ignored
	timer   *time.Timer
	slot    *slot[T]
}

func (g *group[T]) add(w *worker[T, []T], e *envelope[T]) {
	if len(g.items) == 0 {
		g.carrier = e.Seq
		g.arm()
	} else if e.Seq < g.carrier {
		// The output carries the smallest seq, so the checkpoint
		// watermark cannot pass any item of the group before it is out.
		w.adj.add(g.carrier, -1)
		g.carrier = e.Seq
	} else {
		w.adj.add(e.Seq, -1)
	}
	g.items = append(g.items, e.Item)
	g.seqs = append(g.seqs, e.Seq)
}

func (g *group[T]) emit(w *worker[T, []T]) {
	if len(g.items) == 0 {
		return
	}
	w.emit(g.carrier, g.items)
	w.c.out += uint64(len(g.items))
	g.items, g.seqs = make([]T, 0, g.size), g.seqs[:0]
	g.gen++
}

// arm starts the max-wait timer of a group that just got its first item.
// The timer's goroutine only posts a tick to the slot's actor.
func (g *group[T]) arm() {
	if g.wait <= 0 || g.slot == nil {
		return
	}
	gen, s := g.gen, g.slot
	if g.timer != nil {
		g.timer.Stop()
	}
	g.timer = time.AfterFunc(g.wait, func() { s.tick(gen) })
}

func (g *group[T]) stop() {
	if g.timer != nil {
		g.timer.Stop()
		g.timer = nil
	}
}

// tick posts a timer tick to the slot's current actor.
func (s *slot[T]) tick(gen uint64) {
	ref := s.ref.Load()
	if ref == nil {
		return
	}
	b := s.in.pool.Get()
	b.Kind, b.Gen = kTick, gen
	_ = ref.Urgent(b) // lost only if the actor stopped; its next start re-arms
}

// KeyedSpec describes a stateful per-key stage (see Keyed).
type KeyedSpec[T any, K comparable, S any, U any] struct {
	// Key returns the key of an item. Required.
	Key func(T) K
	// Update folds an item into its key's state (the zero S the first
	// time) and may emit outputs. If it fails (error or panic) the state
	// is restored to a shallow copy taken before the call and the item is
	// retried, so Update should not change memory that the state only
	// points to before it knows it succeeds. Required.
	Update func(ctx context.Context, key K, state *S, item T, emit func(U)) error
	// Flush emits what a key's state holds, every FlushEvery and at the
	// end of stream; returning false drops the key's state. Optional: by
	// default states are kept and nothing is emitted.
	Flush func(key K, state *S, emit func(U)) (keep bool)
	// FlushEvery is the flush period; 0 flushes only at the end of stream.
	FlushEvery time.Duration
	// Codec encodes the stage's states (one map per worker) for a state
	// checkpoint (see StateCheckpointer). Optional: GobCodec by default.
	Codec Codec[map[K]S]
}

// Keyed adds a stateful stage: items are routed to workers by the hash
// of Key (so a key always reaches the same worker), and each worker keeps
// a private state per key that Update folds items into and Flush emits
// periodically. States survive worker restarts (they live outside the
// worker actor); an abort drops them.
//
// With a resumable source whose Checkpointer is a StateCheckpointer (and
// no other resumable source), the states are saved with each checkpoint,
// position and states together, at a consistent cut (see
// docs/architecture.md, "State checkpoints"): an item is done once folded into its key's
// state, and a resumed run starts from the saved states at the saved
// position, so its totals are those of an uninterrupted run. What a
// flush emitted after the last checkpoint is emitted again by the
// resumed run (at least once, as for any stage's outputs); states are
// exact. With a Checkpointer that keeps positions only, the oldest item
// folded into a key since its last flush stays uncommitted until that
// flush, so a restart from a checkpoint rebuilds the state.
func Keyed[T any, K comparable, S any, U any](in *Stream[T], name string, spec KeyedSpec[T, K, S, U], opts ...StageOption) *Stream[U] {
	var bad error
	if spec.Key == nil || spec.Update == nil || spec.FlushEvery < 0 {
		bad = invalidf("keyed stage needs Key and Update")
	}
	// Keyed routes by Key itself: a Route option would be overridden, so
	// it is refused rather than silently ignored.
	probe := defaultStageConfig()
	for _, o := range opts {
		if o != nil && o.applyStage(&probe) == nil && probe.router.Rule() != 0 && bad == nil {
			bad = invalidf("keyed stage %q routes by its Key: Route is not allowed", name)
		}
	}
	ck := &keyedCkpt[T, K, S]{name: name, codec: spec.Codec}
	if ck.codec == nil {
		ck.codec = GobCodec[map[K]S]()
	}
	if spec.Key != nil {
		var r Router
		r, ck.hash = keyRouter(spec.Key)
		opts = append(append([]StageOption(nil), opts...), WithRouter(r))
	}
	if usable(in) {
		in.p.mu.Lock()
		in.p.ckpt.keyed = append(in.p.ckpt.keyed, ck)
		in.p.mu.Unlock()
	}
	return workerStage(in, name, "keyed", opts, bad, false, func(st *stage, w *worker[T, U]) {
		if len(ck.workers) == st.cfg.workers {
			ck.workers = nil // a new run
		}
		// sm: state checkpoints. An item is done once folded into its
		// state; a flush's outputs are held by a sequence number of
		// their own (tracker.hold) until done.
		sm := st.p.ckpt.enabled()
		ks := &keyedState[T, K, S]{states: map[K]*keyEntry[S]{}, idx: len(ck.workers)}
		if sm {
			ks.ck = ck
		}
		ck.workers = append(ck.workers, ks)
		var buf []U
		add := func(v U) { buf = append(buf, v) }
		var slotRef func(gen uint64)
		w.step = func(ctx context.Context, w *worker[T, U], e *envelope[T]) error {
			ks.adopt()
			k := spec.Key(e.Item)
			ent := ks.states[k]
			fresh := ent == nil
			if fresh {
				ent = &keyEntry[S]{}
			}
			saved := ent.s
			clear(buf)
			buf = buf[:0]
			ok := false
			defer func() {
				if !ok {
					ent.s = saved
				}
			}()
			if err := spec.Update(ctx, k, &ent.s, e.Item, add); err != nil {
				return err
			}
			ok = true
			if fresh {
				ks.states[k] = ent
			}
			for _, v := range buf {
				w.emit(e.Seq, v)
			}
			switch {
			case sm:
				w.adj.add(e.Seq, int64(len(buf))-1)
			// The state holds the oldest unflushed item of the key.
			case !ent.holds:
				ent.holds, ent.carrier = true, e.Seq
				w.adj.add(e.Seq, int64(len(buf)))
			case e.Seq < ent.carrier:
				w.adj.add(ent.carrier, -1)
				ent.carrier = e.Seq
				w.adj.add(e.Seq, int64(len(buf)))
			default:
				w.adj.add(e.Seq, int64(len(buf))-1)
			}
			w.c.out++
			if spec.FlushEvery > 0 && !ks.armed && slotRef != nil {
				ks.armed = true
				slotRef(ks.gen)
			}
			return nil
		}
		var all []U // sm: the outputs of one flush
		flushAll := func(w *worker[T, U], final bool) {
			ks.adopt()
			for k, ent := range ks.states {
				clear(buf)
				buf = buf[:0]
				keep := true
				if spec.Flush != nil {
					keep = spec.Flush(k, &ent.s, add)
				}
				if !keep || final {
					delete(ks.states, k)
				}
				if sm {
					all = append(all, buf...)
					continue
				}
				seq := ent.carrier
				for _, v := range buf {
					w.emit(seq, v)
				}
				if ent.holds {
					w.adj.add(seq, int64(len(buf))-1)
					ent.holds = false
				} else {
					w.adj.add(seq, int64(len(buf)))
				}
			}
			if len(all) > 0 {
				seq := st.p.tracker.hold(int64(len(all)))
				for _, v := range all {
					w.emit(seq, v)
				}
				clear(all)
				all = all[:0]
			}
		}
		w.onEOS = func(ctx context.Context, w *worker[T, U]) error {
			flushAll(w, true)
			ks.stopTimer()
			return nil
		}
		w.onTick = func(ctx actor.Context, w *worker[T, U], gen uint64) error {
			if gen == snapGen {
				ks.answer()
				return nil
			}
			if gen != ks.gen {
				return nil
			}
			if sm && st.p.tracker.pausing.Load() {
				slotRef(ks.gen) // a checkpoint is being taken: flush after it
				return nil
			}
			ks.gen++
			ks.armed = false
			flushAll(w, false)
			if err := w.send(ctx, true); err != nil {
				return err
			}
			if len(ks.states) > 0 && slotRef != nil {
				ks.armed = true
				slotRef(ks.gen)
			}
			return nil
		}
		w.onStart = func(ctx actor.Context, w *worker[T, U], s *slot[T]) {
			slotRef = func(gen uint64) {
				ks.stopTimer()
				ks.timer = time.AfterFunc(spec.FlushEvery, func() { s.tick(gen) })
			}
			ks.slot.Store(s)
			ks.adopt()
			if ks.ck != nil {
				ks.answer() // a request whose message the previous incarnation lost
			}
			if spec.FlushEvery > 0 && len(ks.states) > 0 {
				ks.gen++
				ks.armed = true
				slotRef(ks.gen)
			}
		}
		w.onSweep = func(w *worker[T, U]) { ks.stopTimer() }
	})
}

type keyEntry[S any] struct {
	s       S
	holds   bool   // the state holds an unflushed item
	carrier uint64 // the smallest seq folded in since the last flush
}

// keyedState is one keyed worker's states. Everything but the fields
// marked otherwise is owned by the worker's current incarnation.
type keyedState[T any, K comparable, S any] struct {
	states map[K]*keyEntry[S]
	gen    uint64
	armed  bool
	timer  *time.Timer

	// State checkpoints (ck nil without them).
	ck      *keyedCkpt[T, K, S]
	idx     int                     // the worker's index
	slot    atomic.Pointer[slot[T]] // set at each start; read by the checkpoint goroutine
	req     atomic.Pointer[snapReq] // a pending snapshot request
	pend    map[K]S                 // restored states not yet adopted; guarded by ck.mu
	hasPend atomic.Bool             // pend is not empty
}

func (ks *keyedState[T, K, S]) stopTimer() {
	if ks.timer != nil {
		ks.timer.Stop()
		ks.timer = nil
	}
}
