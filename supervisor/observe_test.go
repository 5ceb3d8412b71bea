package supervisor_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/observe"
	"github.com/troupe-go/troupe/strategy"
	"github.com/troupe-go/troupe/supervisor"
)

// TestFailureIDFollowsConsequences fails one child of a one-for-all
// supervisor with four children, nested under a top supervisor with
// intensity 0 on the inner one: the failure's ID is on the failure event,
// on all four restarts it causes, and, on a second failure, on the
// give-up, the escalation and the top's restart of the inner supervisor,
// and on the zap log lines that report them.
func TestFailureIDFollowsConsequences(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		core, logs := observer.New(zapcore.InfoLevel)
		var events []actor.Event
		sys := actor.NewSystem(actor.WithLogger(zap.New(core)), actor.WithEvents(func(e actor.Event) { events = append(events, e) }))
		r := &rig{t: t, sys: sys, insts: map[string]int{}, starts: map[string][]time.Time{}, got: map[string][]delivery{}, refs: map[string]chan actor.Ref[msg]{}}
		inner := supervisor.NewSupervisor("inner", r.specs("a", "b", "c", "d"),
			supervisor.WithStrategy(strategy.OneForAll), supervisor.WithIntensity(1, time.Minute))
		top, err := supervisor.Start(sys, "top", []supervisor.ChildSpec{inner})
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
		defer sys.Shutdown(context.Background())
		innerS, _ := supervisor.LookupSupervisor(top, "inner")
		b := lookup(t, innerS, "b")

		send(t, b, msg{failOnce: true})
		synctest.Wait()
		var fid observe.FailureID
		for _, e := range events {
			if e.Kind == actor.EventFailed && e.Path == "/top/inner/b" {
				fid = e.FailureID
			}
		}
		if fid == 0 {
			t.Fatalf("no failure event with an ID for b; events: %v", events)
		}
		var restarted []string
		for _, e := range events {
			if e.Kind == actor.EventRestarted && e.FailureID == fid {
				restarted = append(restarted, e.Path)
			}
		}
		slices.Sort(restarted)
		if want := []string{"/top/inner/a", "/top/inner/b", "/top/inner/c", "/top/inner/d"}; !slices.Equal(restarted, want) {
			t.Errorf("restarts carrying %v: got %v; want %v", fid, restarted, want)
		}

		events = nil
		send(t, b, msg{failOnce: true}) // the second restart in the window: inner gives up
		synctest.Wait()
		var fid2 observe.FailureID
		kinds := map[actor.EventKind][]string{}
		for _, e := range events {
			if e.Kind == actor.EventFailed && e.Path == "/top/inner/b" {
				fid2 = e.FailureID
			}
		}
		for _, e := range events {
			if e.FailureID == fid2 && fid2 != 0 {
				kinds[e.Kind] = append(kinds[e.Kind], e.Path)
			}
		}
		if !slices.Contains(kinds[actor.EventGaveUp], "/top/inner") || !slices.Contains(kinds[actor.EventEscalated], "/top/inner") {
			t.Errorf("give-up and escalation carrying %v: got %v", fid2, kinds)
		}
		if !slices.Contains(kinds[actor.EventRestarted], "/top/inner") {
			t.Errorf("the top's restart of inner does not carry %v: got %v", fid2, kinds)
		}
		var gu *supervisor.GaveUpError
		for _, e := range events {
			if e.Kind == actor.EventGaveUp && errors.As(e.Err, &gu) && !errors.Is(gu, errBoom) {
				t.Errorf("give-up error %v: want its cause chain to reach the child's failure (errBoom)", gu)
			}
		}
		// Log lines at the levels an operator expects, with the IDs.
		want := map[string]zapcore.Level{"actor failed": zapcore.WarnLevel, "child restarted": zapcore.InfoLevel, "supervisor gave up, escalating to its parent": zapcore.ErrorLevel}
		for msg, lvl := range want {
			found := false
			for _, l := range logs.FilterMessage(msg).All() {
				if l.Level != lvl {
					t.Errorf("log %q at %v; want %v", msg, l.Level, lvl)
				}
				for _, f := range l.Context {
					if f.Key == "failure_id" && (f.Interface.(observe.FailureID) == fid || f.Interface.(observe.FailureID) == fid2) {
						found = true
					}
				}
			}
			if !found {
				t.Errorf("no %q log line carrying the failure ID; logs: %v", msg, logs.All())
			}
		}
	})
}

// TestSnapshotTree checks what a Snapshot shows of a supervision tree: the
// nesting in start order, supervisor strategy and intensity usage, restart
// types, a child in backoff with its next start, a bounded mailbox, the
// last failure with its ID; and a supervisor that cannot answer is
// reported unresponsive within the caller's deadline.
func TestSnapshotTree(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		gate, open := r.gate()
		slow := r.spec("slow", hooks{start: func(_ actor.Context, inst int) error {
			if inst == 2 {
				<-gate // the restart of slow blocks its supervisor in Start
			}
			return nil
		}})
		temp := r.spec("temp", hooks{}, actor.WithMailbox(4, 0))
		temp.Restart = strategy.Transient
		inner := supervisor.NewSupervisor("inner", []supervisor.ChildSpec{slow})
		top, err := supervisor.Start(r.sys, "top", []supervisor.ChildSpec{r.spec("w", hooks{}), temp, inner},
			supervisor.WithIntensity(5, time.Minute), supervisor.WithBackoff(strategy.Backoff{Min: time.Minute, Max: time.Minute}))
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
		w := lookup(t, top, "w")
		send(t, w, msg{failOnce: true})
		synctest.Wait() // w is in backoff for a minute
		snap := r.sys.Snapshot(context.Background(), observe.SnapshotOptions{})
		if len(snap.Nodes) != 1 || snap.Nodes[0].Path != "/top" {
			t.Fatalf("top level: got %+v; want /top", snap.Nodes)
		}
		tn := snap.Nodes[0]
		if tn.Type != observe.TypeSupervisor || tn.Supervisor == nil || tn.Supervisor.Strategy != "one_for_one" ||
			tn.Supervisor.MaxRestarts != 5 || tn.Supervisor.RestartsInWindow != 1 || tn.Supervisor.Unresponsive || tn.Kind != "supervisor" {
			t.Errorf("top: got %+v / %+v", tn, tn.Supervisor)
		}
		var names []string
		for _, c := range tn.Children {
			names = append(names, c.Name)
		}
		if !slices.Equal(names, []string{"w", "temp", "inner"}) {
			t.Fatalf("children: got %v; want [w temp inner] in start order", names)
		}
		wn, tmp, in := tn.Children[0], tn.Children[1], tn.Children[2]
		if wn.Status != observe.StatusBackoff || wn.NextStart == nil || !wn.NextStart.Equal(time.Now().Add(time.Minute)) || wn.BackoffAttempt != 1 {
			t.Errorf("w in backoff: got status %v next %v attempt %d", wn.Status, wn.NextStart, wn.BackoffAttempt)
		}
		if wn.LastFailure == nil || wn.LastFailure.ID == 0 || wn.LastFailure.ErrorType != observe.ErrorError || wn.Failures != 1 || wn.Restart != "permanent" {
			t.Errorf("w: got %+v, last failure %+v", wn, wn.LastFailure)
		}
		if tmp.Restart != "transient" || tmp.Mailbox.Capacity != 4 || tmp.Mailbox.Policy != "block" || tmp.Status != observe.StatusRunning || tmp.Type != observe.TypeWorker {
			t.Errorf("temp: got %+v", tmp)
		}
		if in.Type != observe.TypeSupervisor || len(in.Children) != 1 || in.Children[0].Path != "/top/inner/slow" {
			t.Errorf("inner: got %+v", in)
		}

		// inner blocks in the restart of slow: it cannot answer.
		lookupChild := lookup(t, mustSup(t, top, "inner"), "slow")
		send(t, lookupChild, msg{failOnce: true})
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		snap = r.sys.Snapshot(ctx, observe.SnapshotOptions{})
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Errorf("Snapshot with a stuck supervisor took %v; want at most the ctx deadline", d)
		}
		in = snap.Nodes[0].Children[2]
		if in.Supervisor == nil || !in.Supervisor.Unresponsive {
			t.Errorf("inner while stuck: got %+v; want unresponsive", in.Supervisor)
		}
		if tn := snap.Nodes[0]; tn.Supervisor.Unresponsive {
			t.Error("top marked unresponsive; only inner is stuck")
		}
		open()
		synctest.Wait()

		// Limit.
		snap = r.sys.Snapshot(context.Background(), observe.SnapshotOptions{Limit: 2})
		if snap.Truncated != 3 {
			t.Errorf("Truncated with limit 2: got %d; want 3 (5 nodes)", snap.Truncated)
		}
		var ks []string
		for _, k := range r.sys.Snapshot(context.Background(), observe.SnapshotOptions{}).Kinds {
			ks = append(ks, k.Kind)
		}
		if !slices.Contains(ks, "supervisor") || !slices.Contains(ks, "supervisor_test.kid") {
			t.Errorf("kinds: got %v; want supervisor and supervisor_test.kid", ks)
		}
	})
}

func mustSup(t *testing.T, s *supervisor.Supervisor, id string) *supervisor.Supervisor {
	t.Helper()
	sub, err := supervisor.FindSupervisor(s, id)
	if err != nil {
		t.Fatal(err)
	}
	return sub
}
