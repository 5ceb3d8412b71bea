// Pubsub: a topic broker actor whose subscribers join and leave at run
// time, and two policies for slow subscribers, side by side.
//
// The broker watches each subscriber with WatchWith: one that stops
// ("tail", after ten messages) is dropped without anyone telling the
// broker. "steady" leaves with an explicit unsubscribe.
//
// Two subscribers are slower than the publisher; their mailbox policy
// decides what that costs. "lossy" (bounded, DropOldest) never makes the
// broker wait: old messages are dropped, counted in Stats.Dropped, and the
// newest always gets through. "steady" (bounded, Block) makes the broker's
// Tell wait, the broker's own bounded mailbox fills, and the publisher
// slows to steady's pace: backpressure, nothing lost.
//
// What to copy: the broker (sealed command set, WatchWith on subscribe,
// unwatch on leave) and the mailbox option per subscriber.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/mailbox"
)

const total = 100 // messages published

// Message is what the topic carries.
type Message struct{ Seq int }

// command is the sealed set of messages the broker handles.
type command interface{ isCommand() }

type (
	subscribe struct {
		sub   actor.Ref[Message]
		reply actor.Reply[int] // the number of subscribers
	}
	unsubscribe struct {
		path, why string
		reply     actor.Reply[int] // zero when sent by a watch
	}
	publish struct{ msg Message }
)

func (subscribe) isCommand()   {}
func (unsubscribe) isCommand() {}
func (publish) isCommand()     {}

// broker fans every published message out to its subscribers.
type broker struct {
	subs   map[string]member // by path
	printf func(format string, a ...any)
}

type member struct {
	ref     actor.Ref[Message]
	unwatch func()
}

func (b *broker) Receive(ctx actor.Context, c command) error {
	switch c := c.(type) {
	case subscribe:
		// A subscriber that stops unsubscribes: its watch tells the broker.
		self, _ := actor.Self[command](ctx)
		path := c.sub.Path()
		unwatch := actor.WatchWith(self, c.sub.PID(), func(actor.Terminated) command { return unsubscribe{path: path, why: "stopped"} })
		b.subs[path] = member{ref: c.sub, unwatch: unwatch}
		b.printf("broker: %s joined, subscribers: %d\n", path, len(b.subs))
		_ = c.reply.Send(ctx, len(b.subs)) // an asker that gave up is not a failure
	case unsubscribe:
		b.leave(c.path, c.why)
		if c.reply.Valid() {
			_ = c.reply.Send(ctx, len(b.subs))
		}
	case publish:
		for path, m := range b.subs {
			// Waits while a Block mailbox is full; never waits for DropOldest.
			if err := m.ref.Tell(ctx, c.msg); errors.Is(err, actor.ErrStopped) {
				b.leave(path, "stopped") // before its watch notification arrives
			} else if err != nil {
				return err
			}
		}
	}
	return nil
}

func (b *broker) leave(path, why string) {
	if m, ok := b.subs[path]; ok {
		m.unwatch()
		delete(b.subs, path)
		b.printf("broker: %s left (%s), subscribers: %d\n", path, why, len(b.subs))
	}
}

// feed is a subscriber as run sees it. got and last are written by the
// subscriber and read by run after done is closed.
type feed struct {
	ref       actor.Ref[Message]
	got, last int
	done      chan struct{} // closed on the last message
}

// subscriber takes work per message; with stopAfter > 0 it stops by itself.
type subscriber struct {
	work      time.Duration
	stopAfter int
	f         *feed
}

func (s *subscriber) Receive(ctx actor.Context, m Message) error {
	select {
	case <-time.After(s.work): // simulated work
	case <-ctx.Done():
		return ctx.Err()
	}
	s.f.got, s.f.last = s.f.got+1, m.Seq
	if m.Seq == total {
		close(s.f.done)
	}
	if s.f.got == s.stopAfter {
		return actor.StopNormal
	}
	return nil
}

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "pubsub:", err)
		os.Exit(1)
	}
}

func run(w io.Writer) error {
	// The broker prints from its goroutine: serialize the output.
	var mu sync.Mutex
	printf := func(format string, a ...any) { mu.Lock(); defer mu.Unlock(); fmt.Fprintf(w, format, a...) }
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sys := actor.NewSystem()
	defer sys.Shutdown(context.Background())

	topic, err := actor.Spawn(sys, "topic", func() actor.Actor[command] {
		return &broker{subs: map[string]member{}, printf: printf}
	}, actor.WithMailbox(8, mailbox.Block))
	if err != nil {
		return err
	}
	join := func(name string, work time.Duration, stopAfter int, opts ...actor.SpawnOption) (*feed, error) {
		f := &feed{done: make(chan struct{})}
		ref, err := actor.Spawn(sys, name, func() actor.Actor[Message] {
			return &subscriber{work: work, stopAfter: stopAfter, f: f}
		}, opts...)
		if err != nil {
			return nil, err
		}
		f.ref = ref
		_, err = actor.Ask(ctx, topic, func(r actor.Reply[int]) command { return subscribe{sub: ref, reply: r} })
		return f, err
	}
	steady, err := join("steady", time.Millisecond, 0, actor.WithMailbox(8, mailbox.Block))
	if err != nil {
		return err
	}
	lossy, err := join("lossy", 5*time.Millisecond, 0, actor.WithMailbox(8, mailbox.DropOldest))
	if err != nil {
		return err
	}
	if _, err := join("tail", 0, 10); err != nil {
		return err
	}

	start := time.Now()
	for seq := 1; seq <= total; seq++ {
		if err := topic.Tell(ctx, publish{Message{Seq: seq}}); err != nil {
			return err
		}
	}
	printf("published %d in %v, at steady's pace\n", total, time.Since(start).Round(10*time.Millisecond))
	for _, f := range []*feed{steady, lossy} {
		select {
		case <-f.done:
		case <-ctx.Done():
			return fmt.Errorf("waiting for the last message: %w", ctx.Err())
		}
		printf("%-7s got %3d, dropped %3d, last #%d\n", f.ref.Path(), f.got, f.ref.Stats().Dropped, f.last)
	}

	_, err = actor.Ask(ctx, topic, func(r actor.Reply[int]) command {
		return unsubscribe{path: steady.ref.Path(), why: "unsubscribed", reply: r}
	})
	if err != nil {
		return err
	}
	// Stop the broker first: it would report the subscribers Shutdown stops.
	return topic.Stop(ctx)
}
