package remote

import (
	"errors"
	"fmt"

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

// deadLetter puts u in the System's dead letters: reason
// actor.DeadLost for a message lost in transit, actor.DeadUndecodable for
// one that could not be decoded, actor.DeadStopped otherwise (the handle
// is down, or the exposed actor refused it). The recipient is
// "NODE/NAME", the other node's address and the exposed name.
func (n *Node) deadLetter(u Undelivered) {
	reason := actor.DeadStopped
	var ue *UndecodableError
	switch {
	case errors.Is(u.Err, ErrLostInTransit):
		reason = actor.DeadLost
	case errors.As(u.Err, &ue):
		reason = actor.DeadUndecodable
	}
	n.sys.DeadLetter(actor.DeadLetter{Recipient: u.Node + "/" + u.Name, Message: u, Reason: reason, Err: u.Err})
}
