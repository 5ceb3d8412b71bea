package strategy

import (
	"errors"
	"fmt"
)

var (
	// ErrBadCombination is returned by [ValidateSpecs] when a child is
	// significant while its restart type is [Permanent] or the supervisor's
	// auto shutdown is [Never] (OTP bad_combination).
	ErrBadCombination = errors.New("strategy: bad combination of significant, restart type and auto_shutdown")
	// ErrDuplicateID is returned by [ValidateSpecs] when two children have
	// the same id.
	ErrDuplicateID = errors.New("strategy: duplicate child id")
)

// ValidateSpecs checks the child specs of a supervisor whose auto shutdown
// mode is mode (FORMAT §4.8, OTP check_startspec). It walks children in
// order and returns an error for the first child that is invalid: a
// significant child whose restart type is [Permanent] (or a value outside
// the constants), or any significant child when mode is [Never] (or a value
// outside the constants), gives an
// error that wraps [ErrBadCombination]; a child whose ID an earlier child
// already has gives one that wraps [ErrDuplicateID]. Use [errors.Is] to
// tell them apart. The Status fields are not read.
//
// For start_child, validate the new spec alone first
// (ValidateSpecs(mode, []Child{spec})): OTP reports bad_combination before
// it looks for an existing child with the same id.
func ValidateSpecs(mode AutoShutdown, children []ChildState) error {
	seen := make(map[string]struct{}, len(children))
	for _, c := range children {
		autoOff := mode != AnySignificant && mode != AllSignificant
		if c.Significant && (autoOff || (c.Restart != Transient && c.Restart != Temporary)) {
			return fmt.Errorf("child %q: significant %s child with auto_shutdown %s: %w",
				c.ID, c.Restart, mode, ErrBadCombination)
		}
		if _, dup := seen[c.ID]; dup {
			return fmt.Errorf("child %q: %w", c.ID, ErrDuplicateID)
		}
		seen[c.ID] = struct{}{}
	}
	return nil
}
