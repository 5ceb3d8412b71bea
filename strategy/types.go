package strategy

import (
	"fmt"
	"strconv"
)

// Strategy is a supervisor's restart strategy: it picks the children affected
// when one of them is restarted. The zero Strategy is [OneForOne].
type Strategy int

const (
	// OneForOne restarts only the child that exited (OTP one_for_one).
	OneForOne Strategy = iota
	// OneForAll stops every other running child and then starts all of
	// them again (OTP one_for_all).
	OneForAll
	// RestForOne stops the children started after the one that exited and
	// then starts it and them again (OTP rest_for_one).
	RestForOne
)

var kindNames = []string{"one_for_one", "one_for_all", "rest_for_one"}

// String returns the OTP name of k ("one_for_one", "one_for_all" or
// "rest_for_one"), or "Kind(N)" for a value outside the constants.
func (k Strategy) String() string { return name(kindNames, int(k), "Kind") }

// ParseStrategy returns the Kind whose OTP name is s.
func ParseStrategy(s string) (Strategy, error) { return parse[Strategy](kindNames, s, "strategy") }

// Restart is a child's restart type: whether it is restarted when it exits
// by itself. The zero Restart is [Permanent], the OTP default.
type Restart int

const (
	// Permanent children are always restarted.
	Permanent Restart = iota
	// Transient children are restarted only after an abnormal exit (see
	// [ExitReason.IsNormal]).
	Transient
	// Temporary children are never restarted. Their spec is removed when
	// they end, including when a group restart stops them.
	Temporary
)

var restartNames = []string{"permanent", "transient", "temporary"}

// String returns the OTP name of r ("permanent", "transient" or
// "temporary"), or "Restart(N)" for a value outside the constants.
func (r Restart) String() string { return name(restartNames, int(r), "Restart") }

// ParseRestart returns the Restart whose OTP name is s.
func ParseRestart(s string) (Restart, error) { return parse[Restart](restartNames, s, "restart type") }

// AutoShutdown says whether a supervisor terminates itself when significant
// children end (OTP auto_shutdown). The zero AutoShutdown is [Never], the
// OTP default.
type AutoShutdown int

const (
	// Never means the supervisor never shuts itself down, and no child
	// may be significant.
	Never AutoShutdown = iota
	// AnySignificant means the supervisor shuts down when any significant
	// child ends by itself without being restarted.
	AnySignificant
	// AllSignificant means the supervisor shuts down when a significant
	// child ends by itself without being restarted and no other
	// significant child remains that is not [Down].
	AllSignificant
)

var autoNames = []string{"never", "any_significant", "all_significant"}

// String returns the OTP name of a ("never", "any_significant" or
// "all_significant"), or "AutoShutdown(N)" for a value outside the
// constants.
func (a AutoShutdown) String() string { return name(autoNames, int(a), "AutoShutdown") }

// ParseAutoShutdown returns the AutoShutdown whose OTP name is s.
func ParseAutoShutdown(s string) (AutoShutdown, error) {
	return parse[AutoShutdown](autoNames, s, "auto_shutdown")
}

// Status is the state of a child whose spec the supervisor holds. The zero
// Status is [Running].
type Status int

const (
	// Running means the child has been started and has not ended.
	Running Status = iota
	// Down means the child is not running and no restart of it is
	// pending (it ended without a restart, was stopped with terminate_child, or is
	// waiting in a group restart to be started again).
	Down
	// Restarting means a start of the child failed during a restart and
	// a retry is pending.
	Restarting
)

var statusNames = []string{"running", "down", "restarting"}

// String returns "running", "down" or "restarting", or "Status(N)" for a
// value outside the constants. (OTP conformance traces print Running as
// "up".)
func (s Status) String() string { return name(statusNames, int(s), "Status") }

// ExitReason is why a child ended. The zero ExitReason is [Normal].
type ExitReason int

const (
	// Normal means the child finished its work (OTP normal).
	Normal ExitReason = iota
	// Shutdown means the child stopped on request (OTP shutdown). Like
	// Normal, it is not a failure.
	Shutdown
	// Failed means the child failed with an error or a panic (OTP: any
	// other reason).
	Failed
	// Killed means the child was killed by force from outside (OTP
	// killed). It is abnormal.
	Killed
)

var reasonNames = []string{"normal", "shutdown", "error", "killed"}

// String returns "normal", "shutdown", "error" or "killed", or
// "ExitReason(N)" for a value outside the constants.
func (r ExitReason) String() string { return name(reasonNames, int(r), "ExitReason") }

// IsNormal reports whether r is [Normal] or [Shutdown], the reasons OTP
// does not count as a failure of a transient child. Every other value,
// including one outside the constants, is abnormal.
func (r ExitReason) IsNormal() bool { return r == Normal || r == Shutdown }

// ChildState is what the decisions of this package need to know about one child
// of a supervisor: its spec's id, restart type and significant flag, and its
// current status. A supervisor passes its children as a []ChildState in start
// order; the indexes in a [Plan] refer to that slice.
type ChildState struct {
	// ID identifies the child within its supervisor.
	ID string
	// Restart is the child's restart type.
	Restart Restart
	// Significant marks a child whose own exit can shut the supervisor
	// down (see [AutoShutdown]). Only transient and temporary children may
	// be significant.
	Significant bool
	// Status is the child's current state.
	Status Status
}

func name(names []string, v int, typ string) string {
	if v >= 0 && v < len(names) {
		return names[v]
	}
	return typ + "(" + strconv.Itoa(v) + ")"
}

func parse[T ~int](names []string, s, what string) (T, error) {
	for i, n := range names {
		if n == s {
			return T(i), nil
		}
	}
	return 0, fmt.Errorf("strategy: unknown %s %q", what, s)
}
