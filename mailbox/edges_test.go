package mailbox_test

import (
	"testing"
	"testing/synctest"

	"github.com/troupe-go/troupe/internal/apiedge"
	"github.com/troupe-go/troupe/mailbox"
)

// An edge is one exported entry point that takes a context or options,
// called with nil there, and what the package doc's rule says happens.
// Each run is inside a synctest bubble, so a hang fails the test.
type edge struct {
	name string
	want string
	run  func(t *testing.T)
}

// nilEdges lists every exported function and method of package mailbox
// that takes a context.Context or options. TestNilEdgesComplete checks
// the list against the package's API.
var nilEdges = []edge{
	{"Queue.Push", "Background: a push on a full queue waits for space as long as it takes", func(t *testing.T) {
		q, err := mailbox.NewQueue[int](&mailbox.Config{Capacity: 1})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := q.Push(nil, 1); err != nil {
			t.Fatalf("Push(nil, 1): got %v; want nil", err)
		}
		done := make(chan error, 1)
		go func() { _, _, err := q.Push(nil, 2); done <- err }()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("Push(nil, 2) on a full queue: returned %v; want it to wait", err)
		default:
		}
		if got, _ := q.PopOne(); got != 1 {
			t.Fatalf("PopOne: got %d; want 1", got)
		}
		if err := <-done; err != nil {
			t.Errorf("Push(nil, 2) after a pop: got %v; want nil", err)
		}
	}},
}

// TestNilEdges calls every entry point of nilEdges with nil and checks
// what the package doc promises: no panic, and the result in want.
func TestNilEdges(t *testing.T) {
	for _, e := range nilEdges {
		t.Run(e.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				defer func() {
					if v := recover(); v != nil {
						t.Fatalf("%s with nil: panicked: %v (want: %s)", e.name, v, e.want)
					}
				}()
				e.run(t)
			})
		})
	}
}

// TestNilEdgesComplete checks that nilEdges lists exactly the exported
// entry points of the package that take a context or options, and that
// the package doc states the rule.
func TestNilEdgesComplete(t *testing.T) {
	names := make([]string, len(nilEdges))
	for i, e := range nilEdges {
		names[i] = e.name
	}
	apiedge.Complete(t, ".", names)
}
