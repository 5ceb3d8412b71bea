package actor_test

import (
	"context"
	"fmt"
	"time"

	"github.com/troupe-go/troupe/actor"
)

// This example spawns an actor and waits for it to handle one message.
func ExampleSpawn() {
	sys := actor.NewSystem()
	defer sys.Shutdown(context.Background())

	greeted := make(chan struct{})
	ref, err := actor.Spawn(sys, "greeter", func() actor.Actor[string] {
		return actor.Func[string](func(ctx actor.Context, name string) error {
			fmt.Printf("%s: hello, %s\n", ctx.Path(), name)
			close(greeted)
			return nil
		})
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := ref.Tell(context.Background(), "world"); err != nil {
		fmt.Println(err)
		return
	}
	<-greeted
	// Output: /greeter: hello, world
}

// adder keeps a running sum; its state needs no lock because Receive
// never runs concurrently with itself.
type adder struct{ sum int }

type addMsg struct {
	n     int
	total chan<- int // if set, receives the sum so far
}

func (a *adder) Receive(_ actor.Context, m addMsg) error {
	a.sum += m.n
	if m.total != nil {
		m.total <- a.sum
	}
	return nil
}

// This example tells an actor several messages. Messages from one sender
// are handled in the order they were sent, so the last one sees the sum
// of all the others.
func ExampleRef_Tell() {
	sys := actor.NewSystem()
	defer sys.Shutdown(context.Background())

	ref, _ := actor.Spawn(sys, "adder", func() actor.Actor[addMsg] { return &adder{} })
	ctx := context.Background()
	for n := 1; n <= 4; n++ {
		if err := ref.Tell(ctx, addMsg{n: n}); err != nil {
			fmt.Println(err)
			return
		}
	}
	total := make(chan int, 1)
	_ = ref.Tell(ctx, addMsg{total: total})
	fmt.Println("sum:", <-total)
	// Output: sum: 10
}

// square is a request whose reply type, int, is checked at compile time.
type square struct {
	n     int
	reply actor.Reply[int]
}

// This example asks an actor a question and waits for its reply, giving
// up after a second.
func ExampleAsk() {
	sys := actor.NewSystem()
	defer sys.Shutdown(context.Background())

	ref, _ := actor.Spawn(sys, "squarer", func() actor.Actor[square] {
		return actor.Func[square](func(ctx actor.Context, q square) error {
			return q.reply.Send(ctx, q.n*q.n)
		})
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	n, err := actor.Ask(ctx, ref, func(r actor.Reply[int]) square { return square{n: 12, reply: r} })
	fmt.Println(n, err)
	// Output: 144 <nil>
}
