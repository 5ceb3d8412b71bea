package cases

// skynet: a tree of actors, fan-out 10, depth d under the root (d = 5:
// 1+10+100+1000+10000+100000 = 111,111 actors). Each actor spawns its 10
// children; leaf k (numbered 0..10^d-1) sends k to its parent; each parent
// sums its children's sums and sends the total up; the root's total must be
// the sum of 0..10^d-1. Every actor stops when done, and an iteration ends
// only when all are gone. Unit ns/actor.
//
//   - troupe: a node actor whose Start hook spawns its 10 children under
//     itself with actor.Spawn(ctx, ...) (so Start of the whole tree runs on
//     the spawning goroutine, depth first); a leaf's Start Tells its number
//     to the parent's Ref[int]. A parent that has all 10 sums Tells its
//     total up and returns actor.StopNormal, which stops its children
//     first. The root hands its total to the benchmark over a channel; the
//     iteration waits on the root's PID.Done.
//   - protoactor: on *actor.Started a node Spawns its 10 children from its
//     Context (a leaf Sends its number to its parent); a parent that has all
//     10 sums Sends the total up. The root then stops itself, which stops
//     the whole tree children first (nodes that stopped themselves raced
//     their parent's stop and produced dead letters). The iteration waits
//     for the root's *actor.Stopped.
//   - plain: the canonical Go skynet: a goroutine per node, each with its
//     own result channel of capacity 10 for its children.

import (
	"testing"

	proto "github.com/asynkron/protoactor-go/actor"
	"github.com/troupe-go/troupe/actor"
)

// skynetSize returns the actor count and the expected total of a tree of
// depth d.
func skynetSize(d int) (actors, leaves, want int) {
	n := 1
	for i := 0; i < d; i++ {
		n *= 10
		actors += n
	}
	return actors + 1, n, n * (n - 1) / 2
}

func reportSkynet(b *testing.B, actors int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(actors), "ns/actor")
	b.ReportMetric(0, "ns/op")
}

// troupeSkynetNode is one troupe skynet actor.
type troupeSkynetNode struct {
	num, size int // first leaf number and leaf count under this node
	up        func(ctx actor.Context, sum int) error
	sum, got  int
}

func (n *troupeSkynetNode) Start(ctx actor.Context) error {
	if n.size == 1 {
		return n.up(ctx, n.num)
	}
	self, _ := actor.Self[int](ctx)
	up := func(ctx actor.Context, sum int) error { return self.Tell(ctx, sum) }
	sub := n.size / 10
	for i := 0; i < 10; i++ {
		num := n.num + i*sub
		if _, err := actor.Spawn(ctx, "", func() actor.Actor[int] {
			return &troupeSkynetNode{num: num, size: sub, up: up}
		}); err != nil {
			return err
		}
	}
	return nil
}

func (n *troupeSkynetNode) Receive(ctx actor.Context, sum int) error {
	n.sum += sum
	n.got++
	if n.got < 10 {
		return nil
	}
	if err := n.up(ctx, n.sum); err != nil {
		return err
	}
	return actor.StopNormal
}

func troupeSkynet(b *testing.B, depth int) {
	actors, leaves, want := skynetSize(depth)
	sys := actor.NewSystem()
	defer troupeShutdown(b, sys)
	for i := 0; i < b.N; i++ {
		total := make(chan int, 1)
		up := func(_ actor.Context, sum int) error { total <- sum; return nil }
		ref, err := actor.Spawn(sys, "", func() actor.Actor[int] {
			return &troupeSkynetNode{num: 0, size: leaves, up: up}
		})
		if err != nil {
			b.Fatalf("troupe spawn: %v", err)
		}
		if got := <-total; got != want {
			b.Fatalf("troupe skynet: total %d; want %d", got, want)
		}
		<-ref.PID().Done()
	}
	reportSkynet(b, actors)
}

// protoSkynetNode is one protoactor skynet actor.
type protoSkynetNode struct {
	num, size int
	props     *proto.Props // the children's props (shared)
	up        func(c proto.Context, sum int)
	done      chan struct{} // root only: closed on Stopped
	sum, got  int
}

func (n *protoSkynetNode) Receive(c proto.Context) {
	switch m := c.Message().(type) {
	case *proto.Started:
		if n.size == 1 {
			n.up(c, n.num)
			return
		}
		sub := n.size / 10
		for i := 0; i < 10; i++ {
			num := n.num + i*sub
			c.Spawn(proto.PropsFromProducer(func() proto.Actor {
				return &protoSkynetNode{num: num, size: sub, up: protoSendUp}
			}))
		}
	case int:
		n.sum += m
		n.got++
		if n.got == 10 {
			n.up(c, n.sum)
			if n.done != nil { // the root: stopping it stops the tree
				c.Stop(c.Self())
			}
		}
	case *proto.Stopped:
		if n.done != nil {
			close(n.done)
		}
	}
}

func protoSendUp(c proto.Context, sum int) { c.Send(c.Parent(), sum) }

func protoSkynet(b *testing.B, depth int) {
	actors, leaves, want := skynetSize(depth)
	sys := protoSystem()
	for i := 0; i < b.N; i++ {
		total := make(chan int, 1)
		done := make(chan struct{})
		sys.Root.Spawn(proto.PropsFromProducer(func() proto.Actor {
			return &protoSkynetNode{num: 0, size: leaves, done: done,
				up: func(_ proto.Context, sum int) { total <- sum }}
		}))
		if got := <-total; got != want {
			b.Fatalf("protoactor skynet: total %d; want %d", got, want)
		}
		<-done
	}
	reportSkynet(b, actors)
}

func plainSkynetNode(out chan<- int, num, size int) {
	if size == 1 {
		out <- num
		return
	}
	in := make(chan int, 10)
	sub := size / 10
	for i := 0; i < 10; i++ {
		go plainSkynetNode(in, num+i*sub, sub) // Owner: exits after sending its sum to in
	}
	sum := 0
	for i := 0; i < 10; i++ {
		sum += <-in
	}
	out <- sum
}

func plainSkynet(b *testing.B, depth int) {
	actors, leaves, want := skynetSize(depth)
	for i := 0; i < b.N; i++ {
		total := make(chan int, 1)
		go plainSkynetNode(total, 0, leaves) // Owner: exits after sending the total
		if got := <-total; got != want {
			b.Fatalf("plain skynet: total %d; want %d", got, want)
		}
	}
	reportSkynet(b, actors)
}
