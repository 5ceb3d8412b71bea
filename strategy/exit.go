package strategy

// ExitAction is what a supervisor does with a child that exited by itself,
// as decided by [OnExit].
type ExitAction int

const (
	// ActionRestart means run the restart procedure for the child: the
	// [Intensity] check, then the [Group] plan.
	ActionRestart ExitAction = iota
	// ActionKeepDown means keep the spec and mark the child [Down], then check
	// for an automatic shutdown ([ShouldAutoShutdown]).
	ActionKeepDown
	// ActionRemoveSpec means remove the child's spec from the supervisor, then
	// check for an automatic shutdown ([ShouldAutoShutdown]).
	ActionRemoveSpec
)

var actionNames = []string{"restart", "keep_down", "remove_spec"}

// String returns "restart", "keep_down" or "remove_spec", or
// "ExitAction(N)" for a value outside the constants.
func (a ExitAction) String() string { return name(actionNames, int(a), "ExitAction") }

// ChecksAutoShutdown reports whether the supervisor must call
// [ShouldAutoShutdown] after applying a. It is true exactly when the child
// is not restarted: a restart never triggers an automatic shutdown.
func (a ExitAction) ChecksAutoShutdown() bool { return a != ActionRestart }

// OnExit decides what happens when a running child with restart type r
// exits by itself with the given reason (FORMAT §4.4, OTP do_restart):
//
//	restart type   Normal / Shutdown   Failed / Killed
//	Permanent      RestartChild        RestartChild
//	Transient      ActionKeepDown            RestartChild
//	Temporary      ActionRemoveSpec          ActionRemoveSpec
//
// A value of r outside the constants is treated as [Permanent]. OnExit is
// not for children that the supervisor stopped itself (terminate_child, a
// group restart, its own shutdown): those are never restarted and never
// trigger an automatic shutdown.
func OnExit(r Restart, reason ExitReason) ExitAction {
	switch r {
	case Temporary:
		return ActionRemoveSpec
	case Transient:
		if reason.IsNormal() {
			return ActionKeepDown
		}
	}
	return ActionRestart
}

// ShouldAutoShutdown reports whether a supervisor in the given mode must
// shut itself down after the child given as exited ended by itself and was
// kept down or removed (FORMAT §4.7, OTP do_auto_shutdown). Call it only when
// [ExitAction.ChecksAutoShutdown] is true for the child's action.
//
//   - With [Never], or when exited is not significant, it is false.
//   - With [AnySignificant] it is true.
//   - With [AllSignificant] it is true when no significant child in
//     children has a status other than [Down]. A [Restarting] child still
//     counts; a child stopped earlier with terminate_child is Down and does
//     not.
//
// children is the supervisor's child list. Entries with exited's ID are
// ignored, so the list may be taken before or after the exit was applied.
func ShouldAutoShutdown(mode AutoShutdown, exited ChildState, children []ChildState) bool {
	if !exited.Significant {
		return false
	}
	switch mode {
	case AnySignificant:
		return true
	case AllSignificant:
		for _, c := range children {
			if c.ID != exited.ID && c.Significant && c.Status != Down {
				return false
			}
		}
		return true
	}
	return false
}
