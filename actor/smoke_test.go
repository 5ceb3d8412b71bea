package actor_test

import (
	"context"
	"errors"
	"testing"

	"github.com/troupe-go/troupe/actor"
)

type counter struct{ n int }

type cmsg struct {
	add   int
	panic bool
	get   actor.Reply[int]
}

func (c *counter) Receive(ctx actor.Context, m cmsg) error {
	if m.panic {
		panic("boom")
	}
	c.n += m.add
	if m.get.Valid() {
		return m.get.Send(ctx, c.n)
	}
	return nil
}

func TestSmoke(t *testing.T) {
	ctx := context.Background()
	sys := actor.NewSystem()
	ref, err := actor.Spawn(sys, "c", func() actor.Actor[cmsg] { return &counter{} })
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if err := ref.Tell(ctx, cmsg{add: 1}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := actor.Ask(ctx, ref, func(r actor.Reply[int]) cmsg { return cmsg{get: r} })
	if err != nil || n != 10 {
		t.Fatalf("got %d %v", n, err)
	}
	ref.Tell(ctx, cmsg{panic: true})
	n, err = actor.Ask(ctx, ref, func(r actor.Reply[int]) cmsg { return cmsg{add: 5, get: r} })
	if err != nil || n != 5 {
		t.Fatalf("after restart got %d %v", n, err)
	}
	st := ref.Stats()
	t.Logf("%+v", st)
	if err := ref.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ref.Tell(ctx, cmsg{}); !errors.Is(err, actor.ErrStopped) {
		t.Fatalf("tell after stop: %v", err)
	}
	if err := sys.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}
