package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/mailbox"
	"github.com/troupe-go/troupe/supervisor"
)

// Tee broadcasts in to n streams: every item goes to each of them (a
// shallow copy: items holding pointers share what they point to). Each
// output must be consumed. It costs no extra actor: the producers of in
// write to the n consumers directly.
func Tee[T any](in *Stream[T], n int) []*Stream[T] {
	if !usable(in) {
		return make([]*Stream[T], n)
	}
	p := in.p
	if n < 1 {
		absorb(in)
		p.addErr(invalidf("Tee of %q into %d streams", in.producer, n))
		return nil
	}
	outs := make([]*Stream[T], n)
	for i := range outs {
		outs[i] = newStream[T](p, in.producer+" (tee "+strconv.Itoa(i)+")", false)
		outs[i].from = in.from
	}
	if err := connect(in, "tee", target[T](&teeTarget[T]{outs: outs})); err != nil {
		for _, o := range outs {
			o.broken = true
		}
	}
	return outs
}

// Split sends each item of in to yes if pred returns true, else to no.
// Both outputs must be consumed. pred runs on the producers of in (a
// panic there is a failure of that producer).
func Split[T any](in *Stream[T], pred func(T) bool) (yes, no *Stream[T]) {
	if !usable(in) {
		return &Stream[T]{}, &Stream[T]{}
	}
	p := in.p
	if pred == nil {
		absorb(in)
		p.addErr(invalidf("Split of %q with a nil predicate", in.producer))
		return newStream[T](p, "", true), newStream[T](p, "", true)
	}
	yes = newStream[T](p, in.producer+" (split yes)", false)
	no = newStream[T](p, in.producer+" (split no)", false)
	yes.from, no.from = in.from, in.from
	if err := connect(in, "split", target[T](&splitTarget[T]{pred: pred, yes: yes, no: no})); err != nil {
		yes.broken, no.broken = true, true
	}
	return yes, no
}

// Merge joins several streams into one. It costs no extra actor: the
// producers of every input write to the consumer of the result directly,
// which gets its end of stream when all inputs ended. Items from one
// producer keep their order; there is no order between inputs.
func Merge[T any](ins ...*Stream[T]) *Stream[T] {
	var p *Pipeline
	for _, in := range ins {
		if usable(in) {
			p = in.p
			break
		}
	}
	if p == nil {
		return &Stream[T]{}
	}
	out := newStream[T](p, "merge", false)
	out.from = nil
	for _, in := range ins {
		if usable(in) {
			out.from = append(out.from, in.from...)
		}
		if !usable(in) || in.p != p {
			p.addErr(invalidf("Merge of a nil stream or of streams from different pipelines"))
			out.broken = true
			continue
		}
		if err := connect(in, "merge", target[T](&mergeTarget[T]{out: out})); err != nil {
			out.broken = true
		}
	}
	return out
}

// A Tier is one input of a PriorityMerge: a stream and its quota, the
// most items the merge takes from it in one round while lower tiers wait.
type Tier[T any] struct {
	In    *Stream[T]
	Quota int
}

// PriorityMerge joins streams of decreasing priority into one through a
// merge actor (named name); tiers[0] has the highest priority. The merge
// takes turns round the tiers, in order, and takes at most Quota items
// from a tier in its turn: while every tier has items waiting, each round
// takes Quota items from tier 0, then from tier 1, and so on. A tier with
// nothing waiting passes its turn, so it holds up nobody and its share
// goes to the others; when no tier has anything, the next round starts
// at tier 0. A tier whose items wait is never starved: between two of its
// items pass at most the other tiers' quotas. Items of one tier keep
// their order. The stream ends when every tier ended.
//
// Each tier is a bounded queue of the stage's Buffer (producers wait when
// it is full). No tiers, a nil stream, a stream of another pipeline, or a
// Quota below 1 make Start and Run return an error wrapping ErrInvalid; a
// nil p gives a detached stream.
func PriorityMerge[T any](p *Pipeline, name string, tiers []Tier[T], opts ...StageOption) *Stream[T] {
	if p == nil {
		return &Stream[T]{}
	}
	st, err := p.newStage(name, "priority", opts)
	if err == nil {
		err = checkTiers(p, name, tiers)
	}
	if err != nil {
		for _, t := range tiers {
			if usable(t.In) && t.In.p == p {
				absorb(t.In)
			}
		}
		return newStream[T](p, name, true)
	}
	st.active.Store(1)
	st.input = typeName[T]()
	out := newStream[T](p, name, false)
	m := &prio[T]{st: st, out: out, left: tiers[0].Quota}
	capB := max(1, (st.cfg.buffer+p.cfg.batch-1)/p.cfg.batch)
	m.lanes = make([]*lane[T], len(tiers))
	m.cur = make([]*batch[T], len(tiers))
	m.quota = make([]int, len(tiers))
	for i, t := range tiers {
		q, _ := mailbox.NewQueue[*batch[T]](&mailbox.Config{Capacity: capB})
		m.lanes[i] = &lane[T]{m: m, q: q, pool: batchPool[T]{Size: p.cfg.batch}}
		m.quota[i] = t.Quota
	}
	m.in = &inbox[T]{st: st, pool: batchPool[T]{Size: p.cfg.batch}, router: LeastLoaded(), capB: 1}
	m.in.slots = []*slot[T]{{in: m.in, name: "merge", h: m}}
	st.inputs = nil
	for _, t := range tiers {
		st.inputs = append(st.inputs, t.In.from...)
	}
	for i, t := range tiers {
		if connect(t.In, name, target[T](m.lanes[i])) != nil {
			out.broken = true
		}
	}
	st.init = func() error {
		out.target.addUpstream()
		m.adj = p.newAdj()
		m.o = out.target.outlet(m.adj)
		return nil
	}
	st.spec = func() *supervisor.ChildSpec {
		s := m.in.slots[0]
		w := supervisor.NewWorker(s.name, func() actor.Actor[*batch[T]] { return &slotActor[T]{s: s} },
			actor.WithMailbox(1, mailbox.Block), actor.WithMaxAttempts(math.MaxInt32),
			actor.WithUndelivered(takeBack[T]), st.profileLabels(), actor.WithKind(kindMerge))
		w.Shutdown = p.cfg.shutdown
		return st.stageSpec([]supervisor.ChildSpec{w})
	}
	st.sweep = m.sweepAll
	st.reset = func() {
		m.in.resetRun()
		m.inputs.Store(0)
		for i, l := range m.lanes {
			// The sweep closed the lanes of the last run.
			l.q, _ = mailbox.NewQueue[*batch[T]](&mailbox.Config{Capacity: capB})
			m.cur[i] = nil
		}
		m.turn, m.left, m.endSent, m.c = 0, tiers[0].Quota, false, counts{}
	}
	return out
}

// checkTiers reports (and records) what is wrong with the tiers of the
// priority merge name.
func checkTiers[T any](p *Pipeline, name string, tiers []Tier[T]) error {
	var errs []error
	if len(tiers) == 0 {
		errs = append(errs, invalidf("priority merge %q: no tiers", name))
	}
	for i, t := range tiers {
		switch {
		case !usable(t.In):
			errs = append(errs, invalidf("priority merge %q: tier %d: nil stream", name, i))
		case t.In.p != p:
			errs = append(errs, invalidf("priority merge %q: tier %d: a stream of another pipeline", name, i))
		}
		if t.Quota < 1 {
			errs = append(errs, invalidf("priority merge %q: tier %d: quota %d < 1", name, i, t.Quota))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	err := errors.Join(errs...)
	p.addErr(err)
	return err
}

// prio is a priority merge: one bounded lane per tier and the actor that
// drains them. The producers push batches into a lane, then poke the
// actor (a one-slot mailbox: a poke already waiting is enough).
type prio[T any] struct {
	st     *stage
	out    *Stream[T]
	lanes  []*lane[T] // by tier, highest priority first
	quota  []int      // by tier
	in     *inbox[T]
	inputs atomic.Int32 // producer groups not ended

	// Owned by the merge actor's current incarnation.
	o       outlet[T]
	adj     *adjBuf
	cur     []*batch[T] // by tier: the batch being taken from
	turn    int         // the tier whose turn it is
	left    int         // the quota it has left in this turn
	endSent bool
	c       counts
}

type lane[T any] struct {
	m    *prio[T]
	q    *mailbox.Queue[*batch[T]]
	pool batchPool[T]
}

func (l *lane[T]) outlet(adj *adjBuf) outlet[T] {
	return &toLane[T]{l: l, size: l.m.st.p.cfg.batch, adj: adj}
}

func (l *lane[T]) addUpstream() { l.m.inputs.Add(1) }

func (l *lane[T]) upstreamDone(ctx context.Context) {
	if l.m.inputs.Add(-1) == 0 {
		l.m.poke()
	}
}

func (m *prio[T]) poke() {
	ref := m.in.slots[0].ref.Load()
	if ref == nil {
		return
	}
	b := m.in.pool.Get()
	b.Slot = m.in.slots[0]
	if ref.TryTell(b) != nil {
		m.in.pool.Put(b) // a poke is already waiting (or the actor stopped)
	}
}

// toLane is a producer's outlet into one lane of a priority merge.
type toLane[T any] struct {
	l    *lane[T]
	size int
	adj  *adjBuf
	cur  *batch[T]
}

func (o *toLane[T]) add(seq uint64, v T) bool {
	if o.cur == nil {
		o.cur = o.l.pool.Get()
	}
	o.cur.Items = append(o.cur.Items, envelope[T]{Seq: seq, Item: v})
	return len(o.cur.Items) >= o.size
}

func (o *toLane[T]) send(ctx context.Context, all bool) error {
	b := o.cur
	if b == nil || len(b.Items) == 0 || (!all && len(b.Items) < o.size) {
		return nil
	}
	o.adj.flush()
	st := o.l.m.st
	n := len(b.Items)
	st.in.Add(uint64(n))
	st.sent.Add(int64(n))
	if _, _, err := o.l.q.Push(ctx, b); err != nil {
		st.in.Add(^uint64(n - 1))
		st.sent.Add(-int64(n))
		return err
	}
	o.cur = nil
	o.l.m.poke()
	return nil
}

func (o *toLane[T]) drop() {
	if b := o.cur; b != nil {
		st := o.l.m.st
		st.in.Add(uint64(len(b.Items)))
		for _, e := range b.Items {
			st.deadLetter(e.Seq, e.Item, DeadStopped, 0, nil, nil)
		}
		o.cur = nil
	}
}

// avail reports whether lane i has an item, taking its next batch if
// needed.
func (m *prio[T]) avail(i int) bool {
	if b := m.cur[i]; b != nil && b.Next < len(b.Items) {
		return true
	}
	if m.cur[i] != nil {
		m.lanes[i].pool.Put(m.cur[i])
		m.cur[i] = nil
	}
	b, ok := m.lanes[i].q.PopOne()
	if !ok {
		return false
	}
	m.c.taken += int64(len(b.Items))
	m.cur[i] = b
	return len(b.Items) > 0
}

// pick returns the tier to take the next item from, -1 if no tier has
// one. The turn goes round the tiers in order; a tier keeps it while it
// has items and quota left. When no tier has an item, the next round
// starts at tier 0.
func (m *prio[T]) pick() int {
	n := len(m.lanes)
	for range n + 1 { // the current turn, then each tier with a fresh quota
		if m.left > 0 && m.avail(m.turn) {
			return m.turn
		}
		m.turn = (m.turn + 1) % n
		m.left = m.quota[m.turn]
	}
	m.turn, m.left = 0, m.quota[0]
	return -1
}

// drained reports whether every lane's queue is empty.
func (m *prio[T]) drained() bool {
	for _, l := range m.lanes {
		if l.q.Len() > 0 {
			return false
		}
	}
	return true
}

func (m *prio[T]) data(ctx actor.Context, s *slot[T], poke *batch[T]) error {
	if m.st.p.stopping.Load() {
		return nil
	}
	defer m.st.commit(&m.c)
	want := false
	for {
		i := m.pick()
		if i < 0 {
			break
		}
		m.left--
		b := m.cur[i]
		e := &b.Items[b.Next]
		if m.o.add(e.Seq, e.Item) {
			want = true
		}
		b.Next++
		m.c.out++
		m.c.emitted++
		if want {
			want = false
			m.adj.flush()
			if err := m.o.send(ctx, false); err != nil {
				return m.sendFailed(err)
			}
		}
	}
	m.adj.flush()
	if err := m.o.send(ctx, true); err != nil {
		return m.sendFailed(err)
	}
	if m.inputs.Load() == 0 && !m.endSent && m.drained() {
		m.endSent = true
		m.out.target.upstreamDone(ctx)
	}
	return nil
}

func (m *prio[T]) sendFailed(err error) error {
	if m.st.p.stopping.Load() {
		return nil
	}
	return err
}

func (m *prio[T]) eos(actor.Context, *slot[T]) error          { return nil }
func (m *prio[T]) tick(actor.Context, *slot[T], uint64) error { return nil }
func (m *prio[T]) started(actor.Context, *slot[T])            {} // pokes are redelivered like any message
func (m *prio[T]) sweep(*slot[T])                             {}

// sweepAll dead-letters what the merge holds once the actors stopped.
func (m *prio[T]) sweepAll() {
	st := m.st
	for i, l := range m.lanes {
		if b := m.cur[i]; b != nil {
			for _, e := range b.Remaining() {
				st.deadLetter(e.Seq, e.Item, DeadStopped, 0, nil, nil)
			}
			m.cur[i] = nil
		}
		for _, b := range l.q.Close() {
			st.taken.Add(int64(len(b.Items)))
			for _, e := range b.Items {
				st.deadLetter(e.Seq, e.Item, DeadStopped, 0, nil, nil)
			}
		}
	}
	if m.o != nil {
		m.o.drop()
	}
}

// An Inputs[T] adds and removes the inputs of a dynamic merge while the
// pipeline runs (see Dynamic). Its methods are safe for concurrent use.
type Inputs[T any] struct {
	p   *Pipeline
	st  *stage
	out *Stream[T]

	mu      sync.Mutex // guards everything below
	inputs  map[string]*dynInput[T]
	all     []*dynInput[T] // for the sweep
	waiting []*dynInput[T] // added before Start
	closed  bool
	live    int  // running inputs, plus one while not closed
	started bool // Start ran the node's init
	ended   bool // upstreamDone was called
}

type dynInput[T any] struct {
	name   string
	src    *source[T]
	ch     <-chan T
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

// Dynamic adds a merge whose inputs are channels added and removed while
// the pipeline runs (or before it starts). Each input is read by its own
// goroutine that writes to the consumer of the returned stream directly:
// there is no select over the inputs. The stream ends when Close was
// called (or the pipeline is stopped gracefully) and every input ended:
// its channel was closed, or it was removed.
func Dynamic[T any](p *Pipeline, name string) (*Stream[T], *Inputs[T]) {
	if p == nil {
		return &Stream[T]{}, &Inputs[T]{}
	}
	st, err := p.newStage(name, "dynamic", nil)
	if err != nil {
		return newStream[T](p, name, true), &Inputs[T]{}
	}
	st.active.Store(1)
	out := newStream[T](p, name, false)
	d := &Inputs[T]{p: p, st: st, out: out, inputs: map[string]*dynInput[T]{}, live: 1}
	p.onceOnly(name)
	st.init = func() error {
		out.target.addUpstream()
		return nil
	}
	p.mu.Lock()
	p.runners = append(p.runners, func() {
		// Runs once the actors started.
		d.mu.Lock()
		d.started = true
		waiting := d.waiting
		d.waiting = nil
		for _, in := range waiting {
			d.run(in)
		}
		end := d.live == 0 && !d.ended
		d.ended = d.ended || end
		d.mu.Unlock()
		if end {
			d.out.target.upstreamDone(p.runCtx)
		}
		// A graceful Stop closes the merge: its inputs stop reading.
		stop := context.AfterFunc(p.srcCtx, d.Close)
		p.mu.Lock()
		p.closers = append(p.closers, func() { stop() })
		p.mu.Unlock()
	})
	p.mu.Unlock()
	st.sweep = func() {
		d.mu.Lock()
		all := d.all
		d.mu.Unlock()
		for _, in := range all {
			in.src.lock()
			if in.src.o != nil {
				in.src.o.drop()
			}
			in.src.unlock()
		}
	}
	return out, d
}

// Add adds an input named name that reads ch until ch is closed or the
// input is removed. It returns ErrClosed after Close, or an error
// wrapping ErrInvalid for a nil channel or a name in use.
func (d *Inputs[T]) Add(name string, ch <-chan T) error {
	if d.p == nil {
		return invalidf("detached Inputs")
	}
	if ch == nil {
		return invalidf("nil channel for input %q", name)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	if _, dup := d.inputs[name]; dup {
		return invalidf("input %q already added", name)
	}
	in := &dynInput[T]{name: name, ch: ch, done: make(chan struct{})}
	in.src = &source[T]{p: d.p, st: d.st, out: d.out, sem: make(chan struct{}, 1)}
	d.inputs[name] = in
	d.all = append(d.all, in)
	d.live++
	if d.started {
		d.run(in)
	} else {
		d.waiting = append(d.waiting, in)
	}
	return nil
}

// run starts an input's goroutine; d.mu is held.
func (d *Inputs[T]) run(in *dynInput[T]) {
	p := d.p
	in.ctx, in.cancel = context.WithCancel(p.srcCtx)
	s := in.src
	s.adj = p.newAdj()
	s.o = d.out.target.outlet(s.adj)
	// The goroutine ends when its channel is closed, when Remove cancels
	// it, or when the pipeline stops its sources.
	started := p.goSource(func() {
		defer close(in.done)
		err := s.readChan(in.ch, in.ctx.Done())
		s.lock()
		if !p.stopping.Load() && (err == nil || err == errStopReading) {
			_ = s.flush(true)
		}
		s.unlock()
		in.cancel()
		d.inputEnded(in)
	})
	if !started {
		// The pipeline is ending: the input never starts. (d.mu is held
		// by the caller; no end of stream is due any more.)
		close(in.done)
		in.cancel()
		delete(d.inputs, in.name)
		d.live--
	}
}

func (d *Inputs[T]) inputEnded(in *dynInput[T]) {
	d.mu.Lock()
	if d.inputs[in.name] == in {
		delete(d.inputs, in.name)
	}
	d.live--
	end := d.live == 0 && !d.ended
	if end {
		d.ended = true
	}
	d.mu.Unlock()
	if end && !d.p.stopping.Load() {
		d.out.target.upstreamDone(d.p.runCtx)
	}
}

// Remove stops reading the input named name: what it already read is
// passed on, what is left in its channel stays there. It waits until the
// input's goroutine ended or ctx ends (a nil ctx waits as long as it
// takes).
func (d *Inputs[T]) Remove(ctx context.Context, name string) error {
	ctx = orBackground(ctx)
	if d.p == nil {
		return invalidf("detached Inputs")
	}
	d.mu.Lock()
	in := d.inputs[name]
	started := d.started
	if in != nil && !started {
		delete(d.inputs, name)
		for i, w := range d.waiting {
			if w == in {
				d.waiting = append(d.waiting[:i], d.waiting[i+1:]...)
				break
			}
		}
		d.live--
	}
	d.mu.Unlock()
	if in == nil {
		return fmt.Errorf("%w: no input %q", ErrInvalid, name)
	}
	if !started {
		return nil
	}
	in.cancel()
	select {
	case <-in.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close says no more inputs will be added: the stream ends once the
// current inputs end. It is idempotent.
func (d *Inputs[T]) Close() {
	if d.p == nil {
		return
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.closed = true
	d.live--
	end := d.live == 0 && d.started && !d.ended
	if end {
		d.ended = true
	}
	d.mu.Unlock()
	if end && !d.p.stopping.Load() {
		d.out.target.upstreamDone(d.p.runCtx)
	}
}
