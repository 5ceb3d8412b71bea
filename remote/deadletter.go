package remote

import (
	"context"
	"fmt"
	"strings"

	"github.com/troupe-go/troupe/actor"
)

// An Undelivered is the Message of a dead letter the remote layer makes
// on a System: on the sending node, a message lost in transit (Err
// matches ErrLostInTransit) or sent on a handle that is down (Err matches
// ErrNoConnection, or is the remote actor's exit); on the receiving node,
// a message that could not be decoded (Err is an *UndecodableError naming
// the type) or that the exposed actor refused (Err is its Tell error).
type Undelivered struct {
	Node    string // the other node's address
	Name    string // the exposed name
	Type    string // the message's registered name
	Message any    // the message, nil if it could not be decoded
	Data    []byte // the payload of a message that could not be decoded
	Err     error
}

// String names the node, the exposed name, the type and the error.
func (u Undelivered) String() string {
	return fmt.Sprintf("remote %s/%s %s: %v", u.Node, u.Name, u.Type, u.Err)
}

// newLetterbox returns a Ref to a stopped actor of sys: a TryTell on it
// dead-letters the Undelivered on sys (reason actor.DeadStopped,
// recipient the letterbox's path, "/remote@ADDR"), which is how this
// module reaches a System's dead letters from outside package actor.
// TODO: use an exported actor.System dead-letter method once there is
// one, with reasons of its own.
func newLetterbox(sys *actor.System, addr string) (actor.Ref[Undelivered], error) {
	name := "remote@" + strings.ReplaceAll(addr, "/", "_")
	ref, err := actor.Spawn(sys, name, func() actor.Actor[Undelivered] {
		return actor.Func[Undelivered](func(actor.Context, Undelivered) error { return nil })
	})
	if err != nil {
		return actor.Ref[Undelivered]{}, fmt.Errorf("remote: dead-letter box: %w", err)
	}
	if err := ref.Stop(context.Background()); err != nil {
		return actor.Ref[Undelivered]{}, fmt.Errorf("remote: dead-letter box: %w", err)
	}
	return ref, nil
}

// deadLetter puts u in the System's dead letters.
func (n *Node) deadLetter(u Undelivered) { _ = n.letterbox.TryTell(u) }
