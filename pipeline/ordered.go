package pipeline

import (
	"cmp"
	"context"
	"math"
	"slices"
	"sync"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/pipeline/internal/order"
	"github.com/troupe-go/troupe/supervisor"
)

// reorder is the reorder buffer of an ordered stage: an actor that gets
// result batches from the workers (each the outputs of the input items
// numbered [OrderLo, OrderLo+OrderN), in input order; one per input batch, or more
// when items of it were parked for a retry, see toReorder) and passes
// them downstream in number order. Its state lives here, across restarts
// of its actor; pending is bounded by the gate's permits.
type reorder[U any] struct {
	st    *stage
	out   *Stream[U]
	gate  *order.Gate
	rin   *inbox[U] // one slot, not counted in the stage's In
	wouts []*toReorder[U]

	mu      sync.Mutex  // guards stopped
	stopped []*batch[U] // results that reached the reorder actor too late (abort)
	window0 int         // the gate's permits at the start of a run

	// Owned by the reorder actor's current incarnation.
	pending map[uint64]*batch[U]
	tail    []*batch[U] // results made at the workers' end of stream, passed on last
	next    uint64
	o       outlet[U]
	adj     *adjBuf
	want    bool
}

func newReorder[T, U any](st *stage, out *Stream[U], inb *inbox[T]) *reorder[U] {
	p := st.p
	window := st.cfg.window
	if window == 0 {
		window = 2 * st.cfg.workers * (inb.capB + 1) * p.cfg.batch
	}
	inb.ord = order.NewGate(max(window, p.cfg.batch))
	r := &reorder[U]{st: st, out: out, gate: inb.ord, pending: map[uint64]*batch[U]{}, window0: inb.ord.Free()}
	r.rin = &inbox[U]{st: st, pool: batchPool[U]{Size: p.cfg.batch}, router: LeastLoaded(), capB: 0}
	r.rin.slots = []*slot[U]{{in: r.rin, name: "reorder"}}
	// Results refused at an abort hold outputs of this stage, meant for
	// the next one: sweepAll dead-letters them there.
	r.rin.stopped = func(b *batch[U]) {
		r.mu.Lock()
		r.stopped = append(r.stopped, b)
		r.mu.Unlock()
	}
	r.wouts = make([]*toReorder[U], st.cfg.workers)
	return r
}

func (r *reorder[U]) init() {
	r.rin.addUpstream()
	r.adj = r.st.p.newAdj()
	r.o = r.out.target.outlet(r.adj)
	r.rin.slots[0].h = r
}

func (r *reorder[U]) workerOutlet(i int) outlet[U] {
	o := &toReorder[U]{r: r}
	r.wouts[i] = o
	return o
}

func (r *reorder[U]) spec() supervisor.ChildSpec {
	s := r.rin.slots[0]
	spec := supervisor.NewWorker(s.name, func() actor.Actor[*batch[U]] { return &slotActor[U]{s: s} },
		actor.WithMaxAttempts(math.MaxInt32), actor.WithUndelivered(takeBack[U]), r.st.profileLabels(),
		actor.WithKind(kindReorder))
	spec.Shutdown = r.st.p.cfg.shutdown
	return spec
}

// inputDone is the stage's onDone: every worker sent its last result.
func (r *reorder[U]) inputDone(ctx context.Context) { r.rin.upstreamDone(ctx) }

func (r *reorder[U]) data(ctx actor.Context, s *slot[U], b *batch[U]) error {
	if r.st.p.stopping.Load() {
		if b.Held {
			return nil // redelivered while pending: sweepAll takes it
		}
		// Pass what b holds to the downstream outlet and drop it there:
		// the items are dead-lettered in the stage they were meant for.
		for _, e := range b.Remaining() {
			r.o.add(e.Seq, e.Item)
		}
		b.Next = len(b.Items)
		r.o.drop()
		return nil
	}
	if b.OOB {
		return r.unnumbered(ctx, s, b)
	}
	if b.OrderLo < r.next {
		b.Held = false // redelivered after it was passed on
		return nil
	}
	r.pending[b.OrderLo] = b
	b.Held = true
	for {
		c := r.pending[r.next]
		if c == nil {
			break
		}
		for c.Next < len(c.Items) {
			e := &c.Items[c.Next]
			if r.o.add(e.Seq, e.Item) {
				r.want = true
			}
			c.Next++
			if r.want {
				r.want = false
				r.adj.flush()
				if err := r.o.send(ctx, false); err != nil {
					return r.sendFailed(err)
				}
			}
		}
		delete(r.pending, r.next)
		r.next += uint64(c.OrderN)
		r.gate.Release(c.OrderN)
		c.Held = false
		if c != b {
			r.rin.pool.Put(c)
		}
	}
	r.adj.flush()
	if err := r.o.send(ctx, s.in.load(0) == 0); err != nil {
		return r.sendFailed(err)
	}
	return nil
}

// unnumbered handles a result without order numbers (see Batch.OOB): a
// group flushed by its timer passes on at once, as it would unordered
// (its place in the order is behind it already); one made at a worker's
// end of stream waits for the end, behind every numbered result.
func (r *reorder[U]) unnumbered(ctx actor.Context, s *slot[U], b *batch[U]) error {
	if b.Tail {
		if !b.Held {
			b.Held = true
			r.tail = append(r.tail, b)
		}
		return nil
	}
	for b.Next < len(b.Items) {
		e := &b.Items[b.Next]
		if r.o.add(e.Seq, e.Item) {
			r.want = true
		}
		b.Next++
		if r.want {
			r.want = false
			r.adj.flush()
			if err := r.o.send(ctx, false); err != nil {
				return r.sendFailed(err)
			}
		}
	}
	r.adj.flush()
	if err := r.o.send(ctx, s.in.load(0) == 0); err != nil {
		return r.sendFailed(err)
	}
	return nil
}

func (r *reorder[U]) sendFailed(err error) error {
	if r.st.p.stopping.Load() {
		return nil
	}
	return err
}

func (r *reorder[U]) eos(ctx actor.Context, s *slot[U]) error {
	// Every worker sent its results before its EOS, so nothing should be
	// pending; if a range never came, pass the rest on rather than lose it.
	keys := make([]uint64, 0, len(r.pending))
	for k := range r.pending {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		c := r.pending[k]
		for c.Next < len(c.Items) {
			e := &c.Items[c.Next]
			r.o.add(e.Seq, e.Item)
			c.Next++
		}
		delete(r.pending, k)
		r.gate.Release(c.OrderN)
	}
	// The groups flushed at the end of stream, in the order of their
	// first items.
	slices.SortFunc(r.tail, func(a, b *batch[U]) int { return cmp.Compare(firstSeq(a), firstSeq(b)) })
	for _, c := range r.tail {
		for c.Next < len(c.Items) {
			e := &c.Items[c.Next]
			if r.o.add(e.Seq, e.Item) {
				r.adj.flush()
				if err := r.o.send(ctx, false); err != nil {
					return r.sendFailed(err)
				}
			}
			c.Next++
		}
	}
	for _, c := range r.tail {
		c.Held = false
		r.rin.pool.Put(c)
	}
	r.tail = nil
	r.adj.flush()
	if err := r.o.send(ctx, true); err != nil {
		return r.sendFailed(err)
	}
	r.out.target.upstreamDone(ctx)
	return nil
}

func (r *reorder[U]) tick(actor.Context, *slot[U], uint64) error { return nil }
func (r *reorder[U]) started(actor.Context, *slot[U])            {}
func (r *reorder[U]) sweep(*slot[U])                             {} // see sweepAll

// sweep passes everything still held to the downstream outlet and drops
// it there, so the items are dead-lettered in the stage they were sent to.
func (r *reorder[U]) sweepAll() {
	keys := make([]uint64, 0, len(r.pending))
	for k := range r.pending {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		c := r.pending[k]
		for _, e := range c.Remaining() {
			r.o.add(e.Seq, e.Item)
		}
		delete(r.pending, k)
	}
	for _, c := range r.tail {
		for _, e := range c.Remaining() {
			r.o.add(e.Seq, e.Item)
		}
	}
	r.tail = nil
	r.mu.Lock()
	stopped := r.stopped
	r.stopped = nil
	r.mu.Unlock()
	rs := r.rin.slots[0]
	rs.mu.Lock()
	stopped = append(stopped, rs.rescued...)
	rs.rescued = nil
	rs.mu.Unlock()
	for _, b := range stopped {
		for _, e := range b.Remaining() {
			r.o.add(e.Seq, e.Item)
		}
	}
	for _, w := range r.wouts {
		if w == nil {
			continue
		}
		for _, c := range w.held() {
			for _, e := range c.Items {
				r.o.add(e.Seq, e.Item)
			}
		}
		w.cur, w.open, w.ready, w.oob = nil, nil, nil, nil
	}
	r.o.drop()
}

// toReorder is a worker's outlet in an ordered stage. It builds one
// result per run of consecutive input items: the outputs of the items
// numbered [OrderLo, OrderLo+OrderN), in order. A batch makes one result, or several
// when items of it are parked for a retry backoff: parking the item
// numbered k ends the result before k, the parked item makes a result of
// its own when it is done, and the items after it start another. The
// results tile the order numbers, so the reorder buffer gets every
// number exactly once.
//
// While a result is built its range ends where its batch ends; that end
// names it. A result of a batch that was interrupted (a panic, a stopped
// incarnation) waits in open until the batch is handled again: in the
// meantime the worker may handle other batches (a parked item's retry, a
// rescued batch). Owned by the worker's slot.
type toReorder[U any] struct {
	r     *reorder[U]
	cur   *batch[U]            // the result being built: add appends to it
	open  map[uint64]*batch[U] // interrupted results, by the end of their range
	ready []*batch[U]          // complete results, sent in this order
	oob   *batch[U]            // outputs made outside an input batch (see Batch.OOB)
	atEOS bool                 // the worker is flushing at its end of stream
}

func rangeEnd[U any](b *batch[U]) uint64 { return b.OrderLo + uint64(b.OrderN) }

// ensure makes cur the result that the item numbered at, in a batch whose
// numbers end at end, adds to: the one in progress for that batch, or a
// new one from at to end.
func (o *toReorder[U]) ensure(at, end uint64) {
	if o.cur != nil && rangeEnd(o.cur) == end {
		return
	}
	if o.cur != nil {
		if o.open == nil {
			o.open = map[uint64]*batch[U]{}
		}
		o.open[rangeEnd(o.cur)] = o.cur
		o.cur = nil
	}
	if c, ok := o.open[end]; ok {
		delete(o.open, end)
		o.cur = c
		return
	}
	c := o.r.rin.pool.Get()
	c.OrderLo, c.OrderN, c.Ordered = at, int(end-at), true
	o.cur = c
}

// split ends cur before the item numbered at, which is parked: its
// result comes later, on its own. The next item of the batch starts a new
// result.
func (o *toReorder[U]) split(at uint64) {
	c := o.cur
	o.cur = nil
	c.OrderN = int(at - c.OrderLo)
	if c.OrderN == 0 {
		o.r.rin.pool.Put(c) // no item before at: nothing to send
		return
	}
	o.ready = append(o.ready, c)
}

// finish marks the result of the batch whose numbers end at end complete.
func (o *toReorder[U]) finish(end uint64) {
	if o.cur != nil && rangeEnd(o.cur) == end {
		o.ready = append(o.ready, o.cur)
		o.cur = nil
	} else if c, ok := o.open[end]; ok {
		delete(o.open, end)
		o.ready = append(o.ready, c)
	}
}

// held returns every result the outlet holds (for the sweep).
func (o *toReorder[U]) held() []*batch[U] {
	out := append([]*batch[U](nil), o.ready...)
	for _, c := range o.open {
		out = append(out, c)
	}
	if o.cur != nil {
		out = append(out, o.cur)
	}
	if o.oob != nil {
		out = append(out, o.oob)
	}
	return out
}

func (o *toReorder[U]) add(seq uint64, v U) bool {
	if o.cur == nil {
		// Not handling an input batch: a Batch group flushed by its
		// timer or at the end of stream.
		if o.oob == nil {
			o.oob = o.r.rin.pool.Get()
			o.oob.OOB = true
		}
		o.oob.Items = append(o.oob.Items, envelope[U]{Seq: seq, Item: v})
		return false
	}
	o.cur.Items = append(o.cur.Items, envelope[U]{Seq: seq, Item: v})
	return false
}

// send sends the complete results; the one being built waits for the
// rest of its batch.
func (o *toReorder[U]) send(ctx context.Context, all bool) error {
	if o.oob != nil {
		o.oob.Tail = o.atEOS
		o.ready = append(o.ready, o.oob)
		o.oob = nil
	}
	for len(o.ready) > 0 {
		if err := o.r.rin.deliver(ctx, o.r.rin.slots[0], o.ready[0]); err != nil {
			return err
		}
		o.ready[0] = nil
		o.ready = o.ready[1:]
	}
	return nil
}

func (o *toReorder[U]) drop() {} // the reorder sweep collects the results held

func firstSeq[U any](b *batch[U]) uint64 {
	if len(b.Items) == 0 {
		return 0
	}
	return b.Items[0].Seq
}
