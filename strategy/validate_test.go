package strategy_test

import (
	"errors"
	"testing"

	"github.com/troupe-go/troupe/strategy"
)

// TestValidateSpecs covers FORMAT §4.8.
func TestValidateSpecs(t *testing.T) {
	sig := func(id string, r strategy.Restart) strategy.ChildState {
		return strategy.ChildState{ID: id, Restart: r, Significant: true}
	}
	plain := func(id string) strategy.ChildState { return strategy.ChildState{ID: id} }
	cases := []struct {
		name     string
		mode     strategy.AutoShutdown
		children []strategy.ChildState
		want     error
	}{
		{"empty", strategy.Never, nil, nil},
		{"plain children", strategy.Never, []strategy.ChildState{plain("a"), plain("b")}, nil},
		{"significant transient, any", strategy.AnySignificant, []strategy.ChildState{plain("a"), sig("s", strategy.Transient)}, nil},
		{"significant temporary, all", strategy.AllSignificant, []strategy.ChildState{sig("s", strategy.Temporary)}, nil},
		{"significant with never", strategy.Never, []strategy.ChildState{sig("s", strategy.Transient)}, strategy.ErrBadCombination},
		{"significant with unknown mode", strategy.AutoShutdown(7), []strategy.ChildState{sig("s", strategy.Transient)}, strategy.ErrBadCombination},
		{"significant permanent, any", strategy.AnySignificant, []strategy.ChildState{sig("s", strategy.Permanent)}, strategy.ErrBadCombination},
		{"significant permanent, all", strategy.AllSignificant, []strategy.ChildState{sig("s", strategy.Permanent)}, strategy.ErrBadCombination},
		{"significant unknown restart", strategy.AllSignificant, []strategy.ChildState{sig("s", strategy.Restart(5))}, strategy.ErrBadCombination},
		{"duplicate id", strategy.Never, []strategy.ChildState{plain("a"), plain("b"), plain("a")}, strategy.ErrDuplicateID},
		// The first invalid child in start order decides.
		{"duplicate before bad combination", strategy.Never, []strategy.ChildState{plain("a"), plain("a"), sig("s", strategy.Permanent)}, strategy.ErrDuplicateID},
		{"bad combination before duplicate", strategy.Never, []strategy.ChildState{sig("s", strategy.Permanent), plain("a"), plain("a")}, strategy.ErrBadCombination},
		// A child that is both invalid and a duplicate is reported as
		// invalid: OTP checks the spec before the id (h14).
		{"invalid duplicate", strategy.AnySignificant, []strategy.ChildState{plain("s"), sig("s", strategy.Permanent)}, strategy.ErrBadCombination},
	}
	for _, c := range cases {
		err := strategy.ValidateSpecs(c.mode, c.children)
		if c.want == nil {
			if err != nil {
				t.Errorf("%s: got %v; want nil", c.name, err)
			}
			continue
		}
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v; want an error wrapping %v", c.name, err, c.want)
		}
	}
}
