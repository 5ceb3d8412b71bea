package remote

import (
	"context"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/pipeline"
)

// Stage is a pipeline stage whose work is done on another node: each item
// is a request that build makes around a Reply[U], sent with [Ask]
// through s to the actor exposed under s's name, and the item's output is
// the reply. It is pipeline.Map with that function, and takes Map's
// options: Workers(n) bounds the requests in flight (one per worker; the
// default is one), Retry and Timeout apply to what the remote actor
// answers.
//
// It is at least once, with the reply as acknowledgement: an item is done
// (counted Out, covered by a checkpoint) only when its reply came back.
// When the serving node is lost, or its actor stops, the items in flight
// there are sent again once a node serves the name again (the same one
// back, or another); a lost node costs no attempt, and the stage waits
// for a node as long as its worker's context lasts, so Stop, an abort or
// a Timeout bound the wait (an item whose attempt timed out counts a
// failed attempt). A re-sent item may have been handled by the lost node
// too: the remote side must be idempotent (or count duplicates). A
// failure the remote actor answers (Reply.Fail, a panic on every
// delivery) is a failed attempt, retried and dead-lettered by the
// stage's Retry as for any Map. Each item is emitted once: only the reply
// that came back is.
//
// A nil s or build makes the pipeline invalid (Start returns an error
// wrapping pipeline.ErrInvalid).
func Stage[T, U, M any](in *pipeline.Stream[T], name string, s *Service[M], build func(T, actor.Reply[U]) M, opts ...pipeline.StageOption) *pipeline.Stream[U] {
	var fn func(context.Context, T) (U, error)
	if s != nil && build != nil {
		fn = func(ctx context.Context, item T) (U, error) {
			return Ask(ctx, s, func(r actor.Reply[U]) M { return build(item, r) })
		}
	}
	return pipeline.Map(in, name, fn, opts...)
}
