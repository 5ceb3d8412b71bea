package supervisor_test

import (
	"errors"
	"slices"
	"testing"
	"testing/synctest"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/strategy"
	"github.com/troupe-go/troupe/supervisor"
)

// TestRefStableAcrossRestarts checks DESIGN semantics 2 and 4 under a
// supervisor: the Ref found with LookupChild stays the same across a
// restart, the message being handled when the child failed is redelivered
// to the fresh incarnation, and messages sent while the restart is in
// progress are delivered afterwards, in order, to the fresh incarnation.
func TestRefStableAcrossRestarts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		gate, release := r.gate()
		w := r.spec("w", hooks{start: func(_ actor.Context, inst int) error {
			if inst == 2 {
				<-gate // hold the restart open while messages come in
			}
			return nil
		}})
		sup, err := supervisor.Start(r.sys, "top", []supervisor.ChildSpec{w})
		if err != nil {
			t.Fatalf("Start: got %v; want nil", err)
		}
		ref := lookup(t, sup, "w")
		send(t, ref, msg{n: 1})
		send(t, ref, msg{n: 2, failOnce: true})
		synctest.Wait() // w failed on 2; the supervisor is restarting it
		for n := 3; n <= 5; n++ {
			send(t, ref, msg{n: n})
		}
		if again := lookup(t, sup, "w"); again != ref {
			t.Errorf("LookupChild during the restart: got %v; want the same Ref %v", again, ref)
		}
		release()
		for i := 1; i <= 2; i++ {
			if got := await(t, r.started("w"), "start of w"); got != ref {
				t.Errorf("Self of incarnation %d: got %v; want the same Ref %v", i, got, ref)
			}
		}
		synctest.Wait()
		want := []delivery{{1, 1, 1}, {1, 2, 1}, {2, 2, 2}, {2, 3, 1}, {2, 4, 1}, {2, 5, 1}}
		if got := r.deliveries("w"); !slices.Equal(got, want) {
			t.Errorf("deliveries {inst n attempt}: got %v; want %v", got, want)
		}
		if again := lookup(t, sup, "w"); again != ref {
			t.Errorf("LookupChild after the restart: got %v; want the same Ref %v", again, ref)
		}
		st := ref.Stats()
		if st.Accepted != 5 || st.Processed != 5 || st.DeadLettered != 0 || st.InFlight != 0 || st.Failures != 1 {
			t.Errorf("Stats: got %+v; want 5 accepted, 5 processed, 0 dead, 0 in flight, 1 failure", st)
		}
		if got := r.sys.DeadLetters(); got != 0 {
			t.Errorf("dead letters: got %d; want 0", got)
		}
		if got, want := r.eventsOf(actor.EventRestarted), 1; len(got) != want {
			t.Errorf("restarted events: got %v; want %d", got, want)
		}
	})
}

// TestGroupRestartOrder checks, with real child actors recording their own
// hooks, that the affected running children stop in reverse start order
// and then restart in start order, and that temporary ones are removed.
func TestGroupRestartOrder(t *testing.T) {
	cases := []struct {
		name      string
		kind      strategy.Strategy
		temporary string // id of a temporary child, if any
		fail      string
		want      []string
		children  []string // WhichChildren afterwards
	}{
		{
			name: "one_for_one", kind: supervisor.OneForOne, fail: "b",
			want:     []string{"stop b failure", "start b"},
			children: []string{"a", "b", "c", "d"},
		},
		{
			name: "one_for_all", kind: supervisor.OneForAll, fail: "b",
			want: []string{
				"stop b failure",
				"stop d shutdown", "stop c shutdown", "stop a shutdown",
				"start a", "start b", "start c", "start d",
			},
			children: []string{"a", "b", "c", "d"},
		},
		{
			name: "one_for_all first", kind: supervisor.OneForAll, fail: "a",
			want: []string{
				"stop a failure",
				"stop d shutdown", "stop c shutdown", "stop b shutdown",
				"start a", "start b", "start c", "start d",
			},
			children: []string{"a", "b", "c", "d"},
		},
		{
			name: "one_for_all temporary sibling", kind: supervisor.OneForAll, temporary: "c", fail: "b",
			want: []string{
				"stop b failure",
				"stop d shutdown", "stop c shutdown", "stop a shutdown",
				"start a", "start b", "start d",
			},
			children: []string{"a", "b", "d"},
		},
		{
			name: "rest_for_one", kind: supervisor.RestForOne, fail: "b",
			want: []string{
				"stop b failure",
				"stop d shutdown", "stop c shutdown",
				"start b", "start c", "start d",
			},
			children: []string{"a", "b", "c", "d"},
		},
		{
			name: "rest_for_one last", kind: supervisor.RestForOne, fail: "d",
			want:     []string{"stop d failure", "start d"},
			children: []string{"a", "b", "c", "d"},
		},
		{
			name: "rest_for_one temporary after", kind: supervisor.RestForOne, temporary: "c", fail: "a",
			want: []string{
				"stop a failure",
				"stop d shutdown", "stop c shutdown", "stop b shutdown",
				"start a", "start b", "start d",
			},
			children: []string{"a", "b", "d"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t)
				specs := r.specs("a", "b", "c", "d")
				for i := range specs {
					if specs[i].ID == tc.temporary {
						specs[i].Restart = supervisor.Temporary
					}
				}
				sup, err := supervisor.Start(r.sys, "top", specs, supervisor.WithStrategy(tc.kind))
				if err != nil {
					t.Fatalf("Start: got %v; want nil", err)
				}
				r.log()
				send(t, lookup(t, sup, tc.fail), msg{n: 1, failOnce: true})
				synctest.Wait()
				if got := r.log(); !slices.Equal(got, tc.want) {
					t.Errorf("log: got %q; want %q", got, tc.want)
				}
				kids, err := sup.WhichChildren(callCtx(t))
				if err != nil {
					t.Fatalf("WhichChildren: got %v; want nil", err)
				}
				if got := ids(kids); !slices.Equal(got, tc.children) {
					t.Errorf("WhichChildren: got %q; want %q", got, tc.children)
				}
				for _, k := range kids {
					if k.Status != strategy.Running {
						t.Errorf("child %s: got status %v; want %v", k.ID, k.Status, strategy.Running)
					}
				}
				// The failed message went to the fresh incarnation.
				want := []delivery{{1, 1, 1}, {2, 1, 2}}
				if got := r.deliveries(tc.fail); !slices.Equal(got, want) {
					t.Errorf("deliveries of %s: got %v; want %v", tc.fail, got, want)
				}
			})
		})
	}
}

// TestGroupRestartKeepsSiblingMessages checks that a sibling stopped by a
// one-for-all restart keeps the messages sent to it meanwhile and handles
// them, in order, in its fresh incarnation.
func TestGroupRestartKeepsSiblingMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		gate, release := r.gate()
		specs := []supervisor.ChildSpec{
			r.spec("a", hooks{}),
			r.spec("b", hooks{start: func(_ actor.Context, inst int) error {
				if inst == 2 {
					<-gate
				}
				return nil
			}}),
		}
		sup, err := supervisor.Start(r.sys, "top", specs, supervisor.WithStrategy(supervisor.OneForAll))
		if err != nil {
			t.Fatalf("Start: got %v; want nil", err)
		}
		a, b := lookup(t, sup, "a"), lookup(t, sup, "b")
		send(t, b, msg{n: 1})
		synctest.Wait()
		send(t, a, msg{n: 1, failOnce: true})
		synctest.Wait() // the group restart waits in b's start
		send(t, b, msg{n: 2})
		send(t, b, msg{n: 3})
		send(t, a, msg{n: 2})
		release()
		synctest.Wait()
		if got, want := r.deliveries("b"), []delivery{{1, 1, 1}, {2, 2, 1}, {2, 3, 1}}; !slices.Equal(got, want) {
			t.Errorf("deliveries of b: got %v; want %v", got, want)
		}
		if got, want := r.deliveries("a"), []delivery{{1, 1, 1}, {2, 1, 2}, {2, 2, 1}}; !slices.Equal(got, want) {
			t.Errorf("deliveries of a: got %v; want %v", got, want)
		}
	})
}

// TestAutoShutdown checks auto shutdown on significant children: which
// exits stop the supervisor (Wait then matches ErrAutoShutdown and names
// the child) and which do not, and that the remaining children stop in
// reverse start order.
func TestAutoShutdown(t *testing.T) {
	type kidSpec struct {
		id          string
		restart     strategy.Restart
		significant bool
	}
	type step struct {
		id, how string // how: normal, shutdown, fail, terminate
	}
	var (
		a  = kidSpec{"a", supervisor.Permanent, false}
		n  = kidSpec{"n", supervisor.Transient, false}
		s1 = kidSpec{"s1", supervisor.Transient, true}
		s2 = kidSpec{"s2", supervisor.Transient, true}
		t1 = kidSpec{"t1", supervisor.Temporary, true}
		t2 = kidSpec{"t2", supervisor.Temporary, true}
	)
	cases := []struct {
		name    string
		mode    strategy.AutoShutdown
		kids    []kidSpec
		steps   []step
		stopped bool     // the supervisor stopped after the last step (only)
		child   string   // the child named in the GaveUpError
		last    []string // log of the last step
	}{
		{
			name: "any: transient exits normally", mode: supervisor.AnySignificant,
			kids: []kidSpec{a, s1, s2}, steps: []step{{"s1", "normal"}},
			stopped: true, child: "s1",
			last: []string{"stop s1 normal", "stop s2 shutdown", "stop a shutdown"},
		},
		{
			name: "any: transient restarted after a failure", mode: supervisor.AnySignificant,
			kids: []kidSpec{a, s1, s2}, steps: []step{{"s1", "fail"}, {"s1", "shutdown"}},
			stopped: true, child: "s1",
			last: []string{"stop s1 shutdown", "stop s2 shutdown", "stop a shutdown"},
		},
		{
			name: "any: temporary fails", mode: supervisor.AnySignificant,
			kids: []kidSpec{a, t1, s2}, steps: []step{{"t1", "fail"}},
			stopped: true, child: "t1",
			last: []string{"stop t1 failure", "stop s2 shutdown", "stop a shutdown"},
		},
		{
			name: "any: terminate_child and insignificant exits do not count", mode: supervisor.AnySignificant,
			kids: []kidSpec{a, n, s1}, steps: []step{{"s1", "terminate"}, {"n", "normal"}},
			last: []string{"stop n normal"},
		},
		{
			name: "all: last transient exits", mode: supervisor.AllSignificant,
			kids: []kidSpec{a, s1, s2}, steps: []step{{"s1", "normal"}, {"s2", "shutdown"}},
			stopped: true, child: "s2",
			last: []string{"stop s2 shutdown", "stop a shutdown"},
		},
		{
			name: "all: last temporary exits", mode: supervisor.AllSignificant,
			kids: []kidSpec{t1, a, t2}, steps: []step{{"t1", "fail"}, {"t2", "normal"}},
			stopped: true, child: "t2",
			last: []string{"stop t2 normal", "stop a shutdown"},
		},
		{
			name: "all: a terminated child is down", mode: supervisor.AllSignificant,
			kids: []kidSpec{a, s1, s2}, steps: []step{{"s1", "terminate"}, {"s2", "normal"}},
			stopped: true, child: "s2",
			last: []string{"stop s2 normal", "stop a shutdown"},
		},
		{
			name: "all: a restarted child still runs", mode: supervisor.AllSignificant,
			kids: []kidSpec{a, s1, s2}, steps: []step{{"s1", "fail"}, {"s2", "normal"}},
			last: []string{"stop s2 normal"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t)
				ctx := callCtx(t)
				specs := make([]supervisor.ChildSpec, len(tc.kids))
				for i, k := range tc.kids {
					specs[i] = r.spec(k.id, hooks{})
					specs[i].Restart, specs[i].Significant = k.restart, k.significant
				}
				sup, err := supervisor.Start(r.sys, "top", specs, supervisor.WithAutoShutdown(tc.mode))
				if err != nil {
					t.Fatalf("Start: got %v; want nil", err)
				}
				var last []string
				for i, st := range tc.steps {
					r.log()
					switch st.how {
					case "terminate":
						if err := sup.TerminateChild(ctx, st.id); err != nil {
							t.Fatalf("TerminateChild(%s): got %v; want nil", st.id, err)
						}
					case "fail":
						send(t, lookup(t, sup, st.id), msg{failOnce: true})
					case "normal":
						send(t, lookup(t, sup, st.id), msg{exit: actor.StopNormal})
					case "shutdown":
						send(t, lookup(t, sup, st.id), msg{exit: actor.StopShutdown})
					}
					synctest.Wait()
					last = r.log()
					if got, want := isClosed(sup.Done()), tc.stopped && i == len(tc.steps)-1; got != want {
						t.Fatalf("step %d (%s %s): supervisor stopped: got %v; want %v", i, st.how, st.id, got, want)
					}
				}
				if !slices.Equal(last, tc.last) {
					t.Errorf("log of the last step: got %q; want %q", last, tc.last)
				}
				if !tc.stopped {
					return
				}
				err = sup.Wait(ctx)
				if !errors.Is(err, supervisor.ErrAutoShutdown) || errors.Is(err, supervisor.ErrGaveUp) {
					t.Fatalf("Wait: got %v; want an error matching ErrAutoShutdown only", err)
				}
				var gu *supervisor.GaveUpError
				if !errors.As(err, &gu) || gu.Child != tc.child || !gu.Auto || gu.Path != "/top" {
					t.Errorf("Wait: got %#v; want a *GaveUpError for child %s of /top with Auto set", err, tc.child)
				}
			})
		})
	}
}
