package actor_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/mailbox"
)

// Kinds of work messages.
const (
	workOK = iota
	workFailOnce
	workPanicOnce
	workPoison
)

type workMsg struct {
	kind    int
	release chan struct{} // set on a hold message: block until closed
}

// worker handles work messages; it counts what succeeded and signals the
// test when it starts a message and when it holds.
type worker struct {
	succeeded *atomic.Uint64
	started   chan<- struct{} // a non-hold Receive started (cap 1, never blocks)
	holding   chan<- struct{}
	stopStats chan<- actor.Stats
}

func (w *worker) Receive(ctx actor.Context, m workMsg) error {
	if m.release != nil {
		w.holding <- struct{}{}
		<-m.release
		w.succeeded.Add(1)
		return nil
	}
	select {
	case w.started <- struct{}{}:
	default:
	}
	switch {
	case m.kind == workPoison:
		return errBoom
	case m.kind == workFailOnce && ctx.Attempt() == 1:
		return errBoom
	case m.kind == workPanicOnce && ctx.Attempt() == 1:
		panic(errBoom)
	}
	w.succeeded.Add(1)
	return nil
}

// Stop reports the counters of the idle actor when it is stopped for good:
// nothing queued, nothing in flight. (It also runs after each failure.)
func (w *worker) Stop(ctx actor.Context, r actor.ExitReason) {
	if r == actor.Shutdown {
		w.stopStats <- ctx.Self().Stats()
	}
}

// TestConservation runs rounds of random work (successes, failures,
// panics, poison messages) from concurrent senders into bounded mailboxes
// under every policy, and checks at each quiescent point that
// Accepted = Processed + DeadLettered + Dropped + InFlight, and that each
// counter matches what the senders, the actor and the dead-letter sink saw.
//
// A quiescent point is the actor blocked in a hold message that was told
// after every sender finished: nothing else is queued or running.
func TestConservation(t *testing.T) {
	const capacity, senders = 8, 3
	rounds := 30
	if raceEnabled {
		rounds = 10
	}
	cases := []struct {
		name   string
		policy mailbox.Policy
		cap    int
		// throughput 1 makes each new delivery a single pop, so once a
		// message started after the hold was released there is room for
		// the next hold even under DropNewest and Reject.
		throughput int
	}{
		{"unbounded", mailbox.Block, 0, actor.DefaultThroughput},
		{"block", mailbox.Block, capacity, actor.DefaultThroughput},
		{"reject", mailbox.Reject, capacity, 1},
		{"drop-newest", mailbox.DropNewest, capacity, 1},
		{"drop-oldest", mailbox.DropOldest, capacity, actor.DefaultThroughput},
	}
	for ci, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			var succeeded atomic.Uint64
			started, holding, stopStats := make(chan struct{}, 1), make(chan struct{}, 1), make(chan actor.Stats, 1)
			ref := mustSpawn(t, h.sys, "w", func() actor.Actor[workMsg] {
				return &worker{succeeded: &succeeded, started: started, holding: holding, stopStats: stopStats}
			}, actor.WithMailbox(tc.cap, tc.policy), actor.WithThroughput(tc.throughput), actor.WithMaxAttempts(2))
			path := ref.Path()
			var accepted, rejected atomic.Uint64
			tellErr := make(chan error, 1)

			check := func(where string, st actor.Stats, inFlight int64) {
				t.Helper()
				checkConservation(t, where, st, inFlight)
				poison := uint64(len(h.dead.filter(deadOf(actor.DeadPoison, path))))
				dropped := uint64(len(h.dead.filter(deadOf(actor.DeadDropped, path))))
				if st.Accepted != accepted.Load() || st.Rejected != rejected.Load() {
					t.Errorf("%s: Accepted/Rejected: got %d/%d; want %d/%d (senders' count)", where, st.Accepted, st.Rejected, accepted.Load(), rejected.Load())
				}
				if st.Processed != succeeded.Load() {
					t.Errorf("%s: Processed: got %d; want %d (the actor's count)", where, st.Processed, succeeded.Load())
				}
				if st.DeadLettered != poison || st.Dropped != dropped {
					t.Errorf("%s: DeadLettered/Dropped: got %d/%d; want %d/%d (dead letters seen)", where, st.DeadLettered, st.Dropped, poison, dropped)
				}
			}
			tell := func(m workMsg) {
				switch err := ref.Tell(context.Background(), m); {
				case err == nil:
					accepted.Add(1)
				case errors.Is(err, actor.ErrFull):
					rejected.Add(1)
				default:
					// Reported by the test goroutine: a sender may outlive
					// a failed test.
					select {
					case tellErr <- err:
					default:
					}
				}
			}
			checkTells := func() {
				t.Helper()
				select {
				case err := <-tellErr:
					t.Fatalf("Tell: got %v; want nil or ErrFull", err)
				default:
				}
			}

			release := make(chan struct{})
			tell(workMsg{release: release})
			recv(t, holding, "first hold")
			for round := range rounds {
				where := fmt.Sprintf("round %d", round)
				check(where+" start", ref.Stats(), 1)
				var wg sync.WaitGroup
				for s := range senders {
					rng := rand.New(rand.NewPCG(uint64(ci), uint64(round*senders+s)))
					n := capacity + rng.IntN(2*capacity)
					wg.Go(func() { // ends after its n Tells; joined below
						for range n {
							var kind int
							switch r := rng.IntN(100); {
							case r < 60:
								kind = workOK
							case r < 75:
								kind = workFailOnce
							case r < 90:
								kind = workPanicOnce
							default:
								kind = workPoison
							}
							tell(workMsg{kind: kind})
						}
					})
				}
				if tc.policy == mailbox.Block && tc.cap > 0 {
					close(release) // the senders wait for the actor
					recv(t, done(wg.Wait), "senders")
				} else {
					recv(t, done(wg.Wait), "senders")
					// Still quiescent: the actor holds, the senders are done.
					st := ref.Stats()
					check(where+" filled", st, 1+int64(st.MailboxLen))
					select {
					case <-started:
					default:
					}
					close(release)
					if tc.throughput == 1 {
						recv(t, started, "a message to start after the hold")
					}
				}
				checkTells()
				release = make(chan struct{})
				m := workMsg{release: release}
				if err := ref.Tell(context.Background(), m); err != nil {
					t.Fatalf("%s: Tell(hold): got %v; want nil", where, err)
				}
				accepted.Add(1)
				recv(t, holding, "hold")
			}
			st := ref.Stats()
			check("end", st, 1)
			if st.Failures == 0 || st.DeadLettered == 0 || tc.cap > 0 && st.Dropped+st.Rejected == 0 && tc.policy != mailbox.Block {
				t.Errorf("workload too tame: %+v", st)
			}
			close(release)
			if err := ref.Stop(context.Background()); err != nil {
				t.Fatalf("Stop: got %v; want nil", err)
			}
			check("idle, in the Stop hook", recv(t, stopStats, "Stop hook"), 0)
			check("stopped", ref.Stats(), 0)
		})
	}
}
