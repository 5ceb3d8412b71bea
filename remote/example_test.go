package remote_test

import (
	"context"
	"fmt"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/remote"
)

// Quote asks for a price; its Reply carries the answer back.
type Quote struct {
	Sku   string
	Reply actor.Reply[Price] `json:"-"`
}

// Price is the answer.
type Price struct{ Cents int }

func init() {
	_ = remote.Register[Price]("example.Price")
	_ = remote.RegisterAsk("example.Quote",
		func(q Quote) actor.Reply[Price] { return q.Reply },
		func(q *Quote, r actor.Reply[Price]) { q.Reply = r })
}

// One node exposes a pricing actor; another (here the same one, which
// needs no second process) asks it through an ordinary actor.Ref and
// watches it. Between two processes, the second node calls remote.Start
// with remote.WithPeers(first.GossipAddr()) and remote.Ref with
// first.Addr().
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sys := actor.NewSystem()
	defer sys.Shutdown(ctx)
	node, err := remote.Start(sys, "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer node.Close(ctx)

	prices, _ := actor.Spawn(sys, "prices", func() actor.Actor[Quote] {
		return actor.Func[Quote](func(c actor.Context, q Quote) error {
			return q.Reply.Send(c, Price{Cents: 250})
		})
	})
	if err := remote.Expose(node, "prices", prices); err != nil {
		fmt.Println(err)
		return
	}

	ref, err := remote.Ref[Quote](node, node.Addr(), "prices")
	if err != nil {
		fmt.Println(err)
		return
	}
	down, _ := actor.Watch(ref.PID())
	p, err := actor.Ask(ctx, ref, func(r actor.Reply[Price]) Quote { return Quote{Sku: "tea", Reply: r} })
	fmt.Println(p.Cents, err)
	_ = prices.Stop(ctx)
	fmt.Println((<-down).Reason)
	// Not run: the tests of this package keep to one Node per process.
}
