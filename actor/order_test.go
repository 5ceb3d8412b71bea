package actor_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/mailbox"
)

// seqMsg is message seq of sender.
type seqMsg struct{ sender, seq int }

// sequencer checks that each sender's messages arrive in order. Receive
// runs on one goroutine at a time, so its fields need no lock; the test
// reads them after done is closed.
type sequencer struct {
	next    []int
	total   int
	want    int
	bad     []string
	done    chan struct{}
	started *atomic.Int32
}

func (s *sequencer) Receive(_ actor.Context, m seqMsg) error {
	if m.seq != s.next[m.sender] && len(s.bad) < 10 {
		s.bad = append(s.bad, fmt.Sprintf("sender %d: got seq %d; want %d", m.sender, m.seq, s.next[m.sender]))
	}
	s.next[m.sender] = m.seq + 1
	if s.total++; s.total == s.want {
		close(s.done)
	}
	return nil
}

// TestPerSenderFIFO has several goroutines tell one actor concurrently:
// each sender's messages must be received in the order it sent them, for
// every mailbox kind and throughput.
func TestPerSenderFIFO(t *testing.T) {
	const senders = 8
	perSender := 5000
	if raceEnabled {
		perSender = 1000
	}
	cases := []struct {
		name string
		opts []actor.SpawnOption
	}{
		{"unbounded", nil},
		{"bounded-block", []actor.SpawnOption{actor.WithMailbox(16, mailbox.Block)}},
		{"throughput-1", []actor.SpawnOption{actor.WithThroughput(1)}},
		{"bounded-throughput-3", []actor.SpawnOption{actor.WithMailbox(4, mailbox.Block), actor.WithThroughput(3)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			seq := &sequencer{next: make([]int, senders), want: senders * perSender, done: make(chan struct{})}
			var built atomic.Int32
			ref := mustSpawn(t, h.sys, "seq", func() actor.Actor[seqMsg] {
				built.Add(1)
				return seq
			}, tc.opts...)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for s := range senders {
				wg.Go(func() { // ends after its last Tell; joined below
					<-start
					for i := range perSender {
						if err := ref.Tell(context.Background(), seqMsg{s, i}); err != nil {
							t.Errorf("sender %d: Tell(%d): got %v; want nil", s, i, err)
							return
						}
					}
				})
			}
			close(start)
			recv(t, done(wg.Wait), "senders")
			recv(t, seq.done, "all messages received")
			for _, b := range seq.bad {
				t.Error(b)
			}
			for s, n := range seq.next {
				if n != perSender {
					t.Errorf("sender %d: got %d messages; want %d", s, n, perSender)
				}
			}
			if err := ref.Stop(context.Background()); err != nil {
				t.Fatalf("Stop: got %v; want nil", err)
			}
			st := ref.Stats()
			if st.Processed != uint64(senders*perSender) {
				t.Errorf("Processed: got %d; want %d", st.Processed, senders*perSender)
			}
			checkConservation(t, "after stop", st, 0)
			// The factory built the one incarnation; no restart happened.
			if got := built.Load(); got != 1 {
				t.Errorf("factory calls: got %d; want 1", got)
			}
		})
	}
}

// done returns a channel that is closed when wait returns.
func done(wait func()) <-chan struct{} {
	ch := make(chan struct{})
	go func() { // stops when wait returns; the test waits on ch
		wait()
		close(ch)
	}()
	return ch
}

// spinMsg is the message of an actor that keeps telling itself.
type spinMsg struct{}

// TestFairness runs two actors that always have work (each Receive tells
// the actor its next message) on a single processor: with throughput 1
// each yields after every message, so both must make progress. The test
// times out if one of them starves the other.
func TestFairness(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	h := newHarness(t)
	const goal = 1000
	type spinner struct {
		n       atomic.Int64
		reached chan struct{}
	}
	spinners := [2]*spinner{{reached: make(chan struct{})}, {reached: make(chan struct{})}}
	var refs [2]actor.Ref[spinMsg]
	for i, s := range spinners {
		refs[i] = mustSpawn(t, h.sys, fmt.Sprintf("spin-%d", i), func() actor.Actor[spinMsg] {
			return actor.Func[spinMsg](func(ctx actor.Context, m spinMsg) error {
				if s.n.Add(1) == goal {
					close(s.reached)
				}
				self, _ := actor.Self[spinMsg](ctx)
				_ = self.Tell(ctx, m) // ErrStopped once the test stops it
				return nil
			})
		}, actor.WithThroughput(1))
	}
	for _, r := range refs {
		mustTell(t, r, spinMsg{})
	}
	for i, s := range spinners {
		recv(t, s.reached, fmt.Sprintf("spinner %d to handle %d messages", i, goal))
	}
	// Both are still spinning: each must also let a stop through.
	for _, r := range refs {
		if err := r.Stop(context.Background()); err != nil {
			t.Fatalf("Stop(%s): got %v; want nil", r.Path(), err)
		}
	}
	for i, r := range refs {
		st := r.Stats()
		if st.Processed < goal {
			t.Errorf("spinner %d: Processed got %d; want >= %d", i, st.Processed, goal)
		}
		checkConservation(t, r.Path(), st, 0)
	}
}
