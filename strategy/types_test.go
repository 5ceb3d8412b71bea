package strategy_test

import (
	"fmt"
	"testing"

	"github.com/troupe-go/troupe/strategy"
)

func TestNames(t *testing.T) {
	cases := []struct {
		v    fmt.Stringer
		want string
	}{
		{strategy.OneForOne, "one_for_one"},
		{strategy.OneForAll, "one_for_all"},
		{strategy.RestForOne, "rest_for_one"},
		{strategy.Strategy(7), "Kind(7)"},
		{strategy.Permanent, "permanent"},
		{strategy.Transient, "transient"},
		{strategy.Temporary, "temporary"},
		{strategy.Restart(-1), "Restart(-1)"},
		{strategy.Never, "never"},
		{strategy.AnySignificant, "any_significant"},
		{strategy.AllSignificant, "all_significant"},
		{strategy.AutoShutdown(3), "AutoShutdown(3)"},
		{strategy.Running, "running"},
		{strategy.Down, "down"},
		{strategy.Restarting, "restarting"},
		{strategy.Status(3), "Status(3)"},
		{strategy.Normal, "normal"},
		{strategy.Shutdown, "shutdown"},
		{strategy.Failed, "error"},
		{strategy.Killed, "killed"},
		{strategy.ExitReason(4), "ExitReason(4)"},
		{strategy.ActionRestart, "restart"},
		{strategy.ActionKeepDown, "keep_down"},
		{strategy.ActionRemoveSpec, "remove_spec"},
		{strategy.ExitAction(3), "ExitAction(3)"},
	}
	for _, c := range cases {
		if got := c.v.String(); got != c.want {
			t.Errorf("%T(%d).String() = %q; want %q", c.v, c.v, got, c.want)
		}
	}
}

func TestParse(t *testing.T) {
	cases := []struct {
		in      string
		parse   func(string) (fmt.Stringer, error)
		wantErr bool
	}{
		{"one_for_one", parseKind, false},
		{"one_for_all", parseKind, false},
		{"rest_for_one", parseKind, false},
		{"simple_one_for_one", parseKind, true},
		{"OneForOne", parseKind, true},
		{"permanent", parseRestart, false},
		{"transient", parseRestart, false},
		{"temporary", parseRestart, false},
		{"", parseRestart, true},
		{"never", parseAuto, false},
		{"any_significant", parseAuto, false},
		{"all_significant", parseAuto, false},
		{"always", parseAuto, true},
	}
	for _, c := range cases {
		v, err := c.parse(c.in)
		if gotErr := err != nil; gotErr != c.wantErr {
			t.Errorf("parse %q: got error %v; want error %v", c.in, err, c.wantErr)
			continue
		}
		if err == nil && v.String() != c.in {
			t.Errorf("parse %q: got %v; want %v", c.in, v, c.in)
		}
	}
}

func parseKind(s string) (fmt.Stringer, error)    { return strategy.ParseStrategy(s) }
func parseRestart(s string) (fmt.Stringer, error) { return strategy.ParseRestart(s) }
func parseAuto(s string) (fmt.Stringer, error)    { return strategy.ParseAutoShutdown(s) }

func TestZeroValuesAreOTPDefaults(t *testing.T) {
	var c strategy.ChildState
	var k strategy.Strategy
	var a strategy.AutoShutdown
	if k != strategy.OneForOne || c.Restart != strategy.Permanent || a != strategy.Never || c.Status != strategy.Running {
		t.Errorf("zero values: got %v %v %v %v; want one_for_one permanent never running", k, c.Restart, a, c.Status)
	}
}

func TestExitReasonIsNormal(t *testing.T) {
	cases := []struct {
		r    strategy.ExitReason
		want bool
	}{
		{strategy.Normal, true},
		{strategy.Shutdown, true},
		{strategy.Failed, false},
		{strategy.Killed, false},
		{strategy.ExitReason(9), false},
	}
	for _, c := range cases {
		if got := c.r.IsNormal(); got != c.want {
			t.Errorf("%v.IsNormal() = %v; want %v", c.r, got, c.want)
		}
	}
}
