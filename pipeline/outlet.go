package pipeline

import (
	"context"
	"time"
)

// A target is what a stream feeds: a stage's inbox, or a fan-out (tee,
// split), a merge, or a priority lane in front of one. Producers get one
// outlet each; a producer group (a source, a stage, a merge) calls
// addUpstream once before it starts and upstreamDone once after its last
// send.
type target[T any] interface {
	outlet(adj *adjBuf) outlet[T]
	addUpstream()
	upstreamDone(ctx context.Context)
}

// An outlet is one producer's pending output towards a target: partial
// batches and routing state. It is owned by the producer.
type outlet[T any] interface {
	// add appends an item; it reports whether a batch is full and
	// should be sent.
	add(seq uint64, v T) bool
	// send sends the full batches, and the partial ones too if all.
	send(ctx context.Context, all bool) error
	// drop dead-letters every pending item (DeadStopped) into the
	// stage it was meant for.
	drop()
}

// toStage routes a producer's output over the workers of one stage.
type toStage[T any] struct {
	in   *inbox[T]
	size int
	adj  *adjBuf
	pk   *picker
	cur  *batch[T] // non-key routers
	key  func(T) uint64
	per  []*batch[T] // key router: one pending batch per worker
	// waited is the time the sends spent waiting for room since the
	// last takeWaited (see waitTaker).
	waited time.Duration
}

// A waitTaker is an outlet that times its own sends: takeWaited returns
// the time they waited for room since its last call. A producer with
// such an outlet reads no clock around a send; with another, it times
// the whole send.
type waitTaker interface {
	takeWaited() time.Duration
}

func (o *toStage[T]) takeWaited() time.Duration {
	d := o.waited
	o.waited = 0
	return d
}

func (o *toStage[T]) add(seq uint64, v T) bool {
	var b *batch[T]
	if o.key != nil {
		i := int(o.key(v) % uint64(len(o.per)))
		b = o.per[i]
		if b == nil {
			b = o.in.pool.Get()
			o.per[i] = b
		}
	} else {
		b = o.cur
		if b == nil {
			b = o.in.pool.Get()
			o.cur = b
		}
	}
	b.Items = append(b.Items, envelope[T]{Seq: seq, Item: v})
	return len(b.Items) >= o.size
}

func (o *toStage[T]) send(ctx context.Context, all bool) error {
	if o.key != nil {
		for i, b := range o.per {
			if b == nil || len(b.Items) == 0 || (!all && len(b.Items) < o.size) {
				continue
			}
			o.adj.flush()
			t := mono()
			err := o.in.deliver(ctx, o.in.slots[i], b)
			o.waited += mono() - t
			if err != nil {
				return err
			}
			o.per[i] = nil
		}
		return nil
	}
	b := o.cur
	if b == nil || len(b.Items) == 0 || (!all && len(b.Items) < o.size) {
		return nil
	}
	o.adj.flush()
	i := o.pk.pick(int(o.in.st.active.Load()), len(b.Items), o.in.load)
	var err error
	if o.pk.kind == routeLeast {
		// It reads the clock only once it has to wait.
		err = o.in.deliverShared(ctx, i, b, &o.waited)
	} else {
		t := mono()
		err = o.in.deliver(ctx, o.in.slots[i], b)
		o.waited += mono() - t
	}
	if err != nil {
		return err
	}
	o.cur = nil
	return nil
}

func (o *toStage[T]) drop() {
	st := o.in.st
	dropBatch := func(b *batch[T]) {
		if b == nil {
			return
		}
		if o.in.counted { // never delivered, so never counted
			st.in.Add(uint64(len(b.Items)))
		}
		for _, e := range b.Items {
			st.deadLetter(e.Seq, e.Item, DeadStopped, 0, nil, nil)
		}
		o.in.pool.Put(b)
	}
	dropBatch(o.cur)
	o.cur = nil
	for i, b := range o.per {
		dropBatch(b)
		o.per[i] = nil
	}
}

// teeOut copies every item to several outlets (broadcast).
type teeOut[T any] struct {
	outs []outlet[T]
	adj  *adjBuf
}

func (o *teeOut[T]) add(seq uint64, v T) bool {
	full := false
	for _, c := range o.outs {
		if c.add(seq, v) {
			full = true
		}
	}
	o.adj.add(seq, int64(len(o.outs)-1))
	return full
}

func (o *teeOut[T]) send(ctx context.Context, all bool) error {
	for _, c := range o.outs {
		if err := c.send(ctx, all); err != nil {
			return err
		}
	}
	return nil
}

func (o *teeOut[T]) drop() {
	for _, c := range o.outs {
		c.drop()
	}
}

type teeTarget[T any] struct{ outs []*Stream[T] }

func (t *teeTarget[T]) outlet(adj *adjBuf) outlet[T] {
	o := &teeOut[T]{adj: adj}
	for _, s := range t.outs {
		o.outs = append(o.outs, s.target.outlet(adj))
	}
	return o
}

func (t *teeTarget[T]) addUpstream() {
	for _, s := range t.outs {
		s.target.addUpstream()
	}
}

func (t *teeTarget[T]) upstreamDone(ctx context.Context) {
	for _, s := range t.outs {
		s.target.upstreamDone(ctx)
	}
}

// splitOut sends each item to one of two outlets by a predicate.
type splitOut[T any] struct {
	pred    func(T) bool
	yes, no outlet[T]
}

func (o *splitOut[T]) add(seq uint64, v T) bool {
	if o.pred(v) {
		return o.yes.add(seq, v)
	}
	return o.no.add(seq, v)
}

func (o *splitOut[T]) send(ctx context.Context, all bool) error {
	if err := o.yes.send(ctx, all); err != nil {
		return err
	}
	return o.no.send(ctx, all)
}

func (o *splitOut[T]) drop() { o.yes.drop(); o.no.drop() }

type splitTarget[T any] struct {
	pred    func(T) bool
	yes, no *Stream[T]
}

func (t *splitTarget[T]) outlet(adj *adjBuf) outlet[T] {
	return &splitOut[T]{pred: t.pred, yes: t.yes.target.outlet(adj), no: t.no.target.outlet(adj)}
}

func (t *splitTarget[T]) addUpstream() { t.yes.target.addUpstream(); t.no.target.addUpstream() }

func (t *splitTarget[T]) upstreamDone(ctx context.Context) {
	t.yes.target.upstreamDone(ctx)
	t.no.target.upstreamDone(ctx)
}

// mergeTarget forwards to the target of the merged stream: every input of
// a plain merge is a producer group of that target.
type mergeTarget[T any] struct{ out *Stream[T] }

func (t *mergeTarget[T]) outlet(adj *adjBuf) outlet[T]     { return t.out.target.outlet(adj) }
func (t *mergeTarget[T]) addUpstream()                     { t.out.target.addUpstream() }
func (t *mergeTarget[T]) upstreamDone(ctx context.Context) { t.out.target.upstreamDone(ctx) }
