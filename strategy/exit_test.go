package strategy_test

import (
	"testing"

	"github.com/troupe-go/troupe/strategy"
)

// TestOnExit covers every row of FORMAT §4.4.
func TestOnExit(t *testing.T) {
	const (
		restart = strategy.ActionRestart
		keep    = strategy.ActionKeepDown
		remove  = strategy.ActionRemoveSpec
	)
	cases := []struct {
		r      strategy.Restart
		reason strategy.ExitReason
		want   strategy.ExitAction
	}{
		{strategy.Permanent, strategy.Normal, restart},
		{strategy.Permanent, strategy.Shutdown, restart},
		{strategy.Permanent, strategy.Failed, restart},
		{strategy.Permanent, strategy.Killed, restart},
		{strategy.Transient, strategy.Normal, keep},
		{strategy.Transient, strategy.Shutdown, keep},
		{strategy.Transient, strategy.Failed, restart},
		{strategy.Transient, strategy.Killed, restart},
		{strategy.Temporary, strategy.Normal, remove},
		{strategy.Temporary, strategy.Shutdown, remove},
		{strategy.Temporary, strategy.Failed, remove},
		{strategy.Temporary, strategy.Killed, remove},
		// Out-of-range values: an unknown restart type is permanent, an
		// unknown reason is abnormal.
		{strategy.Restart(9), strategy.Normal, restart},
		{strategy.Transient, strategy.ExitReason(9), restart},
	}
	for _, c := range cases {
		got := strategy.OnExit(c.r, c.reason)
		if got != c.want {
			t.Errorf("OnExit(%v, %v) = %v; want %v", c.r, c.reason, got, c.want)
		}
		// The auto-shutdown check applies exactly when there is no restart.
		if gotCheck, wantCheck := got.ChecksAutoShutdown(), c.want != restart; gotCheck != wantCheck {
			t.Errorf("OnExit(%v, %v).ChecksAutoShutdown() = %v; want %v", c.r, c.reason, gotCheck, wantCheck)
		}
	}
}

// TestShouldAutoShutdown covers FORMAT §4.7.
func TestShouldAutoShutdown(t *testing.T) {
	sig := func(id string, r strategy.Restart, st strategy.Status) strategy.ChildState {
		return strategy.ChildState{ID: id, Restart: r, Significant: true, Status: st}
	}
	plain := func(id string, st strategy.Status) strategy.ChildState {
		return strategy.ChildState{ID: id, Status: st}
	}
	const (
		up   = strategy.Running
		down = strategy.Down
		rst  = strategy.Restarting
	)
	tr, tmp := strategy.Transient, strategy.Temporary
	cases := []struct {
		name     string
		mode     strategy.AutoShutdown
		exited   strategy.ChildState
		children []strategy.ChildState
		want     bool
	}{
		{"never", strategy.Never, sig("s", tr, down),
			[]strategy.ChildState{plain("a", up), sig("s", tr, down)}, false},
		{"any, exited not significant", strategy.AnySignificant, strategy.ChildState{ID: "b", Restart: tr, Status: down},
			[]strategy.ChildState{sig("s", tr, up), {ID: "b", Restart: tr, Status: down}}, false},
		{"any, significant transient (27)", strategy.AnySignificant, sig("s", tr, down),
			[]strategy.ChildState{plain("a", up), sig("s", tr, down), plain("b", up)}, true},
		{"any, significant temporary removed", strategy.AnySignificant, sig("t", tmp, down),
			[]strategy.ChildState{plain("a", up), sig("u", tmp, up)}, true},
		{"all, first of two (28)", strategy.AllSignificant, sig("s1", tr, down),
			[]strategy.ChildState{plain("a", up), sig("s1", tr, down), sig("s2", tr, up), plain("b", up)}, false},
		{"all, last of two (28)", strategy.AllSignificant, sig("s2", tr, down),
			[]strategy.ChildState{plain("a", up), sig("s1", tr, down), sig("s2", tr, down), plain("b", up)}, true},
		{"all, other one restarting still counts", strategy.AllSignificant, sig("s1", tr, down),
			[]strategy.ChildState{sig("s1", tr, down), sig("s2", tr, rst)}, false},
		{"all, other one terminated earlier is down", strategy.AllSignificant, sig("s1", tr, down),
			[]strategy.ChildState{sig("s1", tr, down), sig("s2", tr, down)}, true},
		{"all, temporary removed, none left", strategy.AllSignificant, sig("t", tmp, down),
			[]strategy.ChildState{plain("a", up)}, true},
		{"all, exited still listed as running is ignored", strategy.AllSignificant, sig("s1", tr, up),
			[]strategy.ChildState{sig("s1", tr, up), plain("a", up)}, true},
		{"all, exited not significant", strategy.AllSignificant, strategy.ChildState{ID: "b", Restart: tr, Status: down},
			nil, false},
		{"unknown mode", strategy.AutoShutdown(9), sig("s", tr, down), nil, false},
	}
	for _, c := range cases {
		if got := strategy.ShouldAutoShutdown(c.mode, c.exited, c.children); got != c.want {
			t.Errorf("%s: ShouldAutoShutdown(%v, %v, %v) = %v; want %v", c.name, c.mode, c.exited, c.children, got, c.want)
		}
	}
}
