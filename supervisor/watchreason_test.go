package supervisor_test

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/strategy"
	"github.com/troupe-go/troupe/supervisor"
)

// TestWatchersSeeRealReason watches supervised children that end for good
// in different ways, under each restart type: the watcher gets the reason
// and error of the incarnation that ended the child for good, as an OTP
// monitor would, not a blanket shutdown.
func TestWatchersSeeRealReason(t *testing.T) {
	cases := []struct {
		name    string
		restart strategy.Restart
		end     func(t *testing.T, sup *supervisor.Supervisor, ref actor.Ref[msg])
		reason  actor.ExitReason
		err     error // matched with errors.Is; nil means Err must be nil
	}{
		{"temporary fails", strategy.Temporary, func(t *testing.T, _ *supervisor.Supervisor, ref actor.Ref[msg]) {
			send(t, ref, msg{fail: true})
		}, actor.Failed, errBoom},
		{"temporary killed", strategy.Temporary, func(t *testing.T, _ *supervisor.Supervisor, ref actor.Ref[msg]) {
			ref.PID().Kill()
		}, actor.Killed, actor.ErrKilled},
		{"temporary exits normally", strategy.Temporary, func(t *testing.T, _ *supervisor.Supervisor, ref actor.Ref[msg]) {
			send(t, ref, msg{exit: actor.StopNormal})
		}, actor.Normal, nil},
		{"transient exits normally, then its supervisor stops", strategy.Transient, func(t *testing.T, sup *supervisor.Supervisor, ref actor.Ref[msg]) {
			send(t, ref, msg{exit: actor.StopNormal})
			synctest.Wait()
			if err := sup.Stop(callCtx(t)); err != nil {
				t.Fatal(err)
			}
		}, actor.Normal, nil},
		{"permanent fails past the intensity", strategy.Permanent, func(t *testing.T, _ *supervisor.Supervisor, ref actor.Ref[msg]) {
			send(t, ref, msg{fail: true})
		}, actor.Failed, errBoom},
		{"permanent killed past the intensity", strategy.Permanent, func(t *testing.T, _ *supervisor.Supervisor, ref actor.Ref[msg]) {
			ref.PID().Kill()
		}, actor.Killed, actor.ErrKilled},
		{"running when its supervisor stops", strategy.Permanent, func(t *testing.T, sup *supervisor.Supervisor, _ actor.Ref[msg]) {
			if err := sup.Stop(callCtx(t)); err != nil {
				t.Fatal(err)
			}
		}, actor.Shutdown, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t)
				spec := r.spec("c", hooks{})
				spec.Restart = tc.restart
				sup, err := supervisor.Start(r.sys, "sup", []supervisor.ChildSpec{spec, r.spec("other", hooks{})},
					supervisor.WithIntensity(0, time.Minute))
				if err != nil {
					t.Fatalf("Start: %v", err)
				}
				ref := lookup(t, sup, "c")
				got := make(chan actor.Terminated, 1)
				ref.PID().Watch(func(tm actor.Terminated) { got <- tm })
				tc.end(t, sup, ref)
				tm := await(t, got, "the watch notification")
				if tm.Reason != tc.reason {
					t.Errorf("Terminated.Reason: got %v; want %v (%+v)", tm.Reason, tc.reason, tm)
				}
				switch {
				case tc.err == nil && tm.Err != nil:
					t.Errorf("Terminated.Err: got %v; want nil", tm.Err)
				case tc.err != nil && !errors.Is(tm.Err, tc.err):
					t.Errorf("Terminated.Err: got %v; want one matching %v", tm.Err, tc.err)
				}
			})
		})
	}
}
