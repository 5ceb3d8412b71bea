package remote

import (
	"context"
	"errors"
	"fmt"

	"github.com/troupe-go/troupe/actor"
)

// Errors of remote refs. Compare with errors.Is.
var (
	// ErrNoConnection: the node of a remote actor is lost (its process
	// died, hung or became unreachable, or its Node closed), or nothing
	// is exposed under the name there. A handle that got it is down for
	// good, as a watch in Erlang ends with noconnection; dial again.
	ErrNoConnection = errors.New("remote: no connection")
	// ErrNotExposed: no actor is exposed under that name on that node. It
	// comes wrapped with ErrNoConnection.
	ErrNotExposed = errors.New("remote: nothing exposed under that name")
	// ErrLostInTransit is the error of a message dead-lettered on the
	// sender because its node was lost before it acknowledged it.
	ErrLostInTransit = errors.New("remote: lost in transit")
	// ErrClosed: the Node was closed.
	ErrClosed = errors.New("remote: node closed")
	// ErrExposed: a name is already exposed on the node.
	ErrExposed = errors.New("remote: name already exposed")
)

// NoConnection is the Terminated.Reason a watcher of a remote actor gets
// when the connection to it is lost (OTP's noconnection): actor.NoConnection;
// Err then matches ErrNoConnection.
const NoConnection = actor.NoConnection

// A RemoteError is an error that crossed the wire: the error a remote
// actor failed a request with, or the failure that stopped it. It keeps
// the text, and matches with errors.Is the troupe and context sentinels it
// was made from (actor.ErrStopped, context.DeadlineExceeded...).
type RemoteError struct {
	Node string // the node it came from
	Text string
	code uint32
}

// Error returns the text that crossed the wire.
func (e *RemoteError) Error() string { return e.Text }

// Is reports whether target is the sentinel the error was made from.
func (e *RemoteError) Is(target error) bool {
	return e.code != 0 && int(e.code) < len(wireSentinels) && wireSentinels[e.code] == target
}

// wireSentinels are the errors whose identity crosses the wire, by code.
var wireSentinels = [...]error{
	nil,
	actor.ErrStopped,
	actor.ErrFull,
	actor.ErrPoison,
	actor.ErrDropped,
	actor.ErrKilled,
	actor.ErrDeadline,
	actor.ErrAskerGone,
	context.DeadlineExceeded,
	context.Canceled,
	ErrUnregistered,
	ErrNoConnection,
	ErrLostInTransit,
	ErrFeedPosition,
}

// errCode is the wire code of the first sentinel err matches, 0 if none.
func errCode(err error) uint32 {
	for i, s := range wireSentinels {
		if s != nil && errors.Is(err, s) {
			return uint32(i)
		}
	}
	return 0
}

// failEnvelope is the reply envelope of a request that failed with err.
func failEnvelope(err error) *envelope {
	return &envelope{Kind: kindReplyFail, Reason: errCode(err), Err: err.Error()}
}

// wireError rebuilds the error of a failed reply or an exit.
func wireError(e *envelope) error {
	if e.Err == "" && e.Reason == 0 {
		return nil
	}
	code := e.Reason
	if e.Kind == kindExit {
		code = uint32(e.Corr) // an exit's Reason is its actor.ExitReason
	}
	return &RemoteError{Node: e.Node, Text: e.Err, code: code}
}

func nodeLost(addr string) error {
	return fmt.Errorf("remote: node %s: %w", addr, ErrNoConnection)
}
