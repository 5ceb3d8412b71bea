package actor_test

import (
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/actor"
)

// tMsg is a message for TestAfter: "arm" arms a delayed "fired" n after
// d, "fail" fails the incarnation; any other op is recorded.
type tMsg struct {
	op string
	n  int
	d  time.Duration
}

type fired struct {
	op string
	n  int
	at time.Duration
}

// TestAfter: a delayed self-message arrives exactly after its delay and
// does not hold the actor meanwhile; stop cancels it; one armed by an
// incarnation that ended is never posted.
func TestAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newBubbleHarness(t)
		t0 := time.Now()
		got := newLog[fired](true)
		stops := make(chan func() bool, 4)
		ref := mustSpawn(t, h.sys, "a", func() actor.Actor[tMsg] {
			return actor.Func[tMsg](func(ctx actor.Context, m tMsg) error {
				switch m.op {
				case "arm":
					stop, err := actor.After(ctx, m.d, tMsg{op: "fired", n: m.n})
					if err != nil {
						return err
					}
					stops <- stop
				case "fail":
					return errBoom
				default:
					got.add(fired{m.op, m.n, time.Since(t0)})
				}
				return nil
			})
		}, actor.WithMaxAttempts(1))

		// Fires after its delay; the actor handles its mailbox meanwhile.
		mustTell(t, ref, tMsg{op: "arm", n: 1, d: 10 * time.Second})
		mustTell(t, ref, tMsg{op: "plain", n: 2})
		<-stops
		synctest.Wait()
		time.Sleep(20 * time.Second)
		synctest.Wait()
		want := []fired{{"plain", 2, 0}, {"fired", 1, 10 * time.Second}}
		if all := got.all(); !slices.Equal(all, want) {
			t.Errorf("handled: got %v; want %v", all, want)
		}

		// stop cancels it.
		mustTell(t, ref, tMsg{op: "arm", n: 3, d: 5 * time.Second})
		if stop := <-stops; !stop() {
			t.Errorf("stop before the delay: got false; want true")
		}
		// An incarnation that ends takes its delays with it.
		mustTell(t, ref, tMsg{op: "arm", n: 4, d: 5 * time.Second})
		stop4 := <-stops
		mustTell(t, ref, tMsg{op: "fail"})
		h.events.waitFor(t, "the restart", eventOf(actor.EventRestarted, ref.Path()))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if all := got.all(); len(all) != 2 {
			t.Errorf("handled after the cancelled delays: got %v; want only %v", all, want)
		}
		if stop4() {
			t.Errorf("stop after the delay passed: got true; want false")
		}
		if n := len(h.dead.filter(func(d actor.DeadLetter) bool { return d.Reason != actor.DeadPoison })); n != 0 {
			t.Errorf("dead letters: got %d besides the poison one; want 0", n)
		}
	})
}

// After refuses a Context that is not one of an actor of its message type.
func TestAfterWrongContext(t *testing.T) {
	h := newHarness(t)
	errs := make(chan error, 1)
	ref := mustSpawn(t, h.sys, "a", func() actor.Actor[int] {
		return actor.Func[int](func(ctx actor.Context, _ int) error {
			_, err := actor.After(ctx, time.Second, "not an int")
			errs <- err
			return nil
		})
	})
	mustTell(t, ref, 1)
	if err := recv(t, errs, "After's error"); !errors.Is(err, actor.ErrWrongType) {
		t.Errorf("After with another message type: got %v; want ErrWrongType", err)
	}
}
