package sched_test

import (
	"testing"
	"testing/synctest"

	"github.com/troupe-go/troupe/internal/sched"
	"github.com/troupe-go/troupe/mailbox"
)

// TestPostNilContext checks the mailbox package's nil rule for Post: a
// nil context is Background, so a post to a full mailbox waits for space
// as long as it takes.
func TestPostNilContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mb, err := sched.NewMailbox[int, int](&mailbox.Config{Capacity: 1}, sched.SchedulerFunc(func() {}))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := mb.Post(nil, 1); err != nil {
			t.Fatalf("Post(nil, 1): got %v; want nil", err)
		}
		done := make(chan error, 1)
		go func() { _, _, err := mb.Post(nil, 2); done <- err }()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("Post(nil, 2) to a full mailbox: returned %v; want it to wait", err)
		default:
		}
		if got, _ := mb.PopOne(); got != 1 {
			t.Fatalf("PopOne: got %d; want 1", got)
		}
		if err := <-done; err != nil {
			t.Errorf("Post(nil, 2) after a pop: got %v; want nil", err)
		}
	})
}

// TestNewMailboxInvalid checks that NewMailbox refuses what
// mailbox.Config.Validate refuses, and a nil scheduler.
func TestNewMailboxInvalid(t *testing.T) {
	for _, cfg := range []mailbox.Config{{Capacity: -1}, {High: -1}, {High: 4, Low: 4}} {
		if mb, err := sched.NewMailbox[int, int](&cfg, sched.SchedulerFunc(func() {})); err == nil || mb != nil {
			t.Errorf("NewMailbox(%+v): got %p, %v; want nil and an error", cfg, mb, err)
		}
	}
	if mb, err := sched.NewMailbox[int, int](nil, nil); err == nil || mb != nil {
		t.Errorf("NewMailbox(nil, nil): got %p, %v; want nil and an error", mb, err)
	}
	if _, err := sched.NewMailbox[int, int](nil, sched.SchedulerFunc(func() {})); err != nil {
		t.Errorf("NewMailbox(nil config): got %v; want nil (unbounded)", err)
	}
}
