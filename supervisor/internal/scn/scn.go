// Package scn parses the `.scn` supervision scenarios of the OTP
// conformance suite (supervisor/testdata/otp/FORMAT.md, section 1) into a
// [Scenario]: the flags of the top-level supervisor, its tree of static
// children and the list of steps a runner applies to it.
//
// The parser accepts the language of FORMAT.md section 1, including the
// extra rules the OTP oracle enforces to keep traces deterministic (section
// 1.3). Every rejected input gives a [*SyntaxError] that names the offending
// line; Parse never panics and reads its input once, in time linear in its
// size.
//
// A parsed Scenario prints back as canonical `.scn` text with
// [Scenario.String]; parsing that text gives an equal Scenario (line numbers
// aside).
//
// The package only parses. Running a scenario and printing its trace is the
// job of the conformance runner.
//
// # Differences from the oracle's parser
//
// The oracle (otp_oracle.escript) is more lenient than FORMAT.md in a few
// corners that no shipped scenario uses; this package follows FORMAT.md:
//
//   - An INT is digits only. The oracle also takes a sign ("+5", "-0").
//   - An INTLIST has no empty elements. The oracle skips them ("1,,2", "1,").
//   - Only one "\r" at the end of a line is ignored. The oracle treats "\r"
//     as a blank anywhere in a line.
//
// It also checks statically what the oracle would only reject when it runs
// the step (exit status 3): the PATH of a crash, terminate_child,
// restart_child or delete_child step must be a top-level path or have a
// declared supervisor child as its parent. Like the oracle, it requires the
// PATH of which_children and count_children, and the parent of a nested
// start_child path, to be declared supervisor children; unlike the oracle,
// it reports those errors with their line.
//
// Like the oracle, it accepts a fail_starts list with repeated or unsorted
// numbers and stores it sorted, without duplicates.
package scn

import (
	"iter"
	"strconv"
	"strings"
)

// A Scenario is a parsed `.scn` file.
//
// Its embedded [SupSpec] holds the flags of the top-level supervisor, the
// one the runner starts, so s.Strategy, s.Intensity, s.Period and
// s.AutoShutdown are the header values (AutoShutdown is "never" when the
// header omits it).
//
// A Scenario returned by [Parse] is not shared with anything else; the
// caller may modify it. The package never modifies it after Parse returns.
type Scenario struct {
	SupSpec

	// Children are the static children of the top-level supervisor in
	// start order. Children of nested supervisors are in the Children of
	// their supervisor child.
	Children []*Child

	// Steps are the step lines in file order.
	Steps []Step
}

// A SupSpec holds the flags of a supervisor: the top-level one (embedded in
// [Scenario]) or a nested one ([Child.Supervisor]).
type SupSpec struct {
	// Strategy is "one_for_one", "one_for_all" or "rest_for_one".
	Strategy string
	// Intensity is OTP's MaxR, >= 0: the number of restarts allowed within
	// Period.
	Intensity int
	// Period is OTP's MaxT in seconds, >= 1.
	Period int
	// AutoShutdown is "never" (the default), "any_significant" or
	// "all_significant".
	AutoShutdown string
}

// A Child is one child spec: a `child` line, or the spec of a
// `start_child` step.
type Child struct {
	// Line is the 1-based line of the `child` line or `step start_child`
	// line that declared the spec.
	Line int
	// Path is the full dotted path, for example "s.x". Traces print it.
	Path string
	// ID is the last component of Path: the child's id inside its own
	// supervisor.
	ID string
	// Restart is "permanent", "transient" or "temporary".
	Restart string
	// Shutdown is the shutdown field of the spec.
	Shutdown Shutdown
	// Significant is the spec's significant flag. The parser does not
	// check that the combination is valid; OTP does (FORMAT.md 4.8).
	Significant bool
	// Stubborn marks a worker that ignores its supervisor's shutdown
	// request. Never set on a supervisor child.
	Stubborn bool
	// FailStarts lists the invocations of the path's start function that
	// fail, counting from 1, sorted ascending without duplicates. It is nil
	// when the option is absent.
	FailStarts []int
	// Supervisor is non-nil when the child is itself a supervisor, and
	// holds its flags. Its Shutdown is then always infinity.
	Supervisor *SupSpec
	// Children are the static children of a supervisor child, in start
	// order. Always empty for a worker and for a start_child spec.
	Children []*Child
}

// ShutdownKind tells which form a [Shutdown] takes.
type ShutdownKind int

// The kinds of [Shutdown].
const (
	// ShutdownMillis is an integer timeout in milliseconds, held in
	// Shutdown.Millis.
	ShutdownMillis ShutdownKind = iota
	// BrutalKill is "brutal_kill": the child is killed at once.
	BrutalKill
	// Infinity is "infinity": the supervisor waits for the child for ever.
	Infinity
)

// A Shutdown is the shutdown field of a child spec. The zero value is a
// timeout of 0 ms.
type Shutdown struct {
	// Kind is the form of the shutdown.
	Kind ShutdownKind
	// Millis is the timeout in milliseconds, >= 0. It is meaningful only
	// when Kind is ShutdownMillis, and 0 otherwise.
	Millis int
}

// String returns the shutdown as written in a `.scn` file: an integer,
// "brutal_kill" or "infinity".
func (s Shutdown) String() string {
	switch s.Kind {
	case BrutalKill:
		return "brutal_kill"
	case Infinity:
		return "infinity"
	}
	return strconv.Itoa(s.Millis)
}

// A Step is one `step` line.
type Step struct {
	// Line is the 1-based line of the step in its file.
	Line int
	// Op is the action: "crash", "terminate_child", "restart_child",
	// "delete_child", "start_child", "which_children", "count_children",
	// "sleep" or "stop".
	Op string
	// Path is the child the step acts on. For crash, terminate_child,
	// restart_child and delete_child it is a top-level path or the path of
	// a child of a declared supervisor child. For which_children and
	// count_children it names the supervisor child whose children are
	// listed, and is "" for the top level. For start_child it equals
	// Child.Path. It is "" for sleep and stop.
	Path string
	// Reason is the crash reason of a crash step: "normal", "shutdown",
	// "error" or "kill".
	Reason string
	// Millis is the duration of a sleep step in milliseconds, >= 0.
	Millis int
	// Child is the spec of a start_child step, nil for other steps. It is
	// never a supervisor child, and its parent supervisor (the path prefix)
	// is the top level or a declared supervisor child.
	Child *Child
}

// Find returns the static child declared with the given full path, or nil
// if no `child` line declares it. Specs that only appear in start_child
// steps are not found.
func (s *Scenario) Find(path string) *Child {
	kids := s.Children
	var found *Child
	for name := range strings.SplitSeq(path, ".") {
		found = nil
		for _, c := range kids {
			if c.ID == name {
				found = c
				break
			}
		}
		if found == nil {
			return nil
		}
		kids = found.Children
	}
	return found
}

// All yields every static child of the scenario, depth first: each child
// before its own children, siblings in start order. That is an order in
// which the `child` lines may be declared.
func (s *Scenario) All() iter.Seq[*Child] {
	return func(yield func(*Child) bool) {
		walk(s.Children, yield)
	}
}

// walk yields kids and their subtrees in pre-order and reports whether
// yield asked to go on.
func walk(kids []*Child, yield func(*Child) bool) bool {
	for _, c := range kids {
		if !yield(c) || !walk(c.Children, yield) {
			return false
		}
	}
	return true
}

// SplitPath splits a child path into the path of its supervisor and its id:
// "s.x" gives ("s", "x"), and a top-level path "a" gives ("", "a").
func SplitPath(path string) (parent, id string) {
	i := strings.LastIndexByte(path, '.')
	if i < 0 {
		return "", path
	}
	return path[:i], path[i+1:]
}
