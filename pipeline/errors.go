package pipeline

import (
	"errors"
	"fmt"
)

// Errors returned by the pipeline. They are sentinels: compare with
// [errors.Is], since they are usually wrapped with the name of the stage
// or option at fault.
var (
	// ErrInvalid is wrapped by the error Run and Start return for a
	// pipeline that was built wrong: a nil function, a zero or negative
	// worker count, a duplicate or empty stage name, a stream consumed
	// twice or never, an option out of range.
	ErrInvalid = errors.New("pipeline: invalid")
	// ErrClosed is returned by Start for a pipeline already started, by
	// Replay after the pipeline stopped, by Inputs.Add after Close, and
	// (wrapped, through Start) for a stage built after Start.
	ErrClosed = errors.New("pipeline: closed")
	// ErrNotRunning is returned by Wait, Stop and Replay before Start.
	ErrNotRunning = errors.New("pipeline: not running")
	// ErrRunning is returned by Rerun while a run is in progress.
	ErrRunning = errors.New("pipeline: running")
	// ErrDrainTimeout is returned by Wait (and Stop) when a graceful stop
	// did not finish before its context ended; the pipeline was then
	// cancelled. It wraps the context's error.
	ErrDrainTimeout = errors.New("pipeline: drain timed out")
	// ErrInputEnded is returned by Replay when the target stage has
	// already received its end of stream.
	ErrInputEnded = errors.New("pipeline: stage input ended")
	// ErrPosition is wrapped by the error of a resumable source whose
	// positions do not fit: a next position that goes back, or (FromLines)
	// a checkpoint that is past the end of the file or not at the start of
	// a line, because the file was replaced or rewritten.
	ErrPosition = errors.New("pipeline: bad position")
)

// A StageError is the fatal error of a pipeline caused by one stage (or
// source): its supervisor gave up (Err matches supervisor.ErrGaveUp), or a
// source or sink returned a fatal error. Use [errors.As] to get the stage
// name.
type StageError struct {
	Stage string
	Err   error
}

// Error returns "pipeline: stage NAME: ERR".
func (e *StageError) Error() string { return fmt.Sprintf("pipeline: stage %q: %v", e.Stage, e.Err) }

// Unwrap returns the underlying error.
func (e *StageError) Unwrap() error { return e.Err }

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}
