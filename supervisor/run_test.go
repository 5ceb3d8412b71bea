package supervisor_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/troupe-go/troupe/supervisor"
)

// The group's context ends (the parent's was cancelled): Run stops the
// supervisor, its children last started first, and returns ctx.Err(), as
// the group's other members do.
func TestRunInErrgroupStopsOnCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		sup := mustStart(t, r, r.specs("a", "b"))
		parent, cancel := context.WithCancel(context.Background())
		g, ctx := errgroup.WithContext(parent)
		g.Go(func() error { return sup.Run(ctx) })
		other := make(chan struct{})
		g.Go(func() error { // Owner: the group; it ends with the group's ctx.
			defer close(other)
			<-ctx.Done()
			return ctx.Err()
		})
		synctest.Wait()
		if isClosed(sup.Done()) || isClosed(other) {
			t.Fatal("a member returned before the group's context ended")
		}
		r.log()
		cancel()
		if err := g.Wait(); !errors.Is(err, context.Canceled) {
			t.Fatalf("g.Wait: got %v; want context.Canceled", err)
		}
		if !isClosed(sup.Done()) {
			t.Fatal("Run returned while the supervisor still ran")
		}
		if got, want := r.log(), []string{"stop b shutdown", "stop a shutdown"}; !slices.Equal(got, want) {
			t.Errorf("log: got %q; want %q", got, want)
		}
		if err := sup.Wait(callCtx(t)); err != nil {
			t.Errorf("Wait after Run: got %v; want nil (stopped, not gave up)", err)
		}
	})
}

// The supervisor gives up: Run returns its *GaveUpError, the group
// cancels its other members, and g.Wait returns that error.
func TestRunInErrgroupGaveUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		sup := mustStart(t, r, r.specs("a", "w"), supervisor.WithIntensity(0, time.Second))
		g, ctx := errgroup.WithContext(context.Background())
		g.Go(func() error { return sup.Run(ctx) })
		var otherErr error
		g.Go(func() error { // Owner: the group; it ends with the group's ctx.
			<-ctx.Done()
			otherErr = ctx.Err()
			return otherErr
		})
		send(t, lookup(t, sup, "w"), msg{n: 1, failOnce: true})
		err := g.Wait()
		var gu *supervisor.GaveUpError
		if !errors.As(err, &gu) || !errors.Is(err, supervisor.ErrGaveUp) || gu.Child != "w" {
			t.Fatalf("g.Wait: got %v; want the *GaveUpError of child w", err)
		}
		if !errors.Is(otherErr, context.Canceled) {
			t.Errorf("the other member saw %v; want its context cancelled", otherErr)
		}
	})
}

// Run on a supervisor stopped by someone else returns nil, at once or
// when it stops.
func TestRunStoppedElsewhere(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		sup := mustStart(t, r, r.specs("a"))
		res := make(chan error, 1)
		go func() { res <- sup.Run(context.Background()) }() // Owner: this test; ends when sup stops.
		synctest.Wait()
		stopSup(t, sup)
		if err := await(t, res, "Run after Stop"); err != nil {
			t.Errorf("Run: got %v; want nil", err)
		}
		if err := sup.Run(context.Background()); err != nil {
			t.Errorf("Run on a stopped supervisor: got %v; want nil", err)
		}
	})
}
