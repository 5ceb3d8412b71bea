package actor

import (
	"context"
	"testing"
	"time"
)

// TestStaleEnderGivesMailboxBack ends an incarnation that another ender
// already finished, on the mailbox of its successor: what a killer (or a
// parent's Shutdown) does when it loaded the incarnation just before a
// concurrent kill ended it and restarted the actor in place. It must give
// the idle mailbox back, not keep it: the successor then still handles
// messages. (Found by TestModel, seed 41: two concurrent Kills left the
// restarted actor's mailbox running with no owner.)
func TestStaleEnderGivesMailboxBack(t *testing.T) {
	sys := NewSystem()
	defer func() {
		if t.Failed() {
			return // the stale ender's mailbox would make Shutdown hang
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := sys.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	}()
	got := make(chan int, 1)
	ref, err := Spawn(sys, "a", func() Actor[int] {
		return Func[int](func(_ Context, m int) error { got <- m; return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	p := ref.p
	old := p.inc.Load()
	p.Kill() // idle: ended and restarted in place on this goroutine
	if p.inc.Load() == old || p.inc.Load() == nil {
		t.Fatalf("Kill did not restart the actor in place")
	}
	if p.endIdle(old, ending{reason: Shutdown, requested: true}) {
		t.Errorf("endIdle of an ended incarnation: got true; want false")
	}
	if err := ref.Tell(context.Background(), 7); err != nil {
		t.Fatalf("Tell: %v", err)
	}
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	select {
	case m := <-got:
		if m != 7 {
			t.Fatalf("got %d; want 7", m)
		}
	case <-timer.C:
		t.Fatalf("the restarted actor never handled its message: its mailbox was kept by the stale ender")
	}
}
