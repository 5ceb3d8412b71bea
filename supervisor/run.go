package supervisor

import (
	"context"
	"errors"
)

// Run blocks while the supervisor runs, so that a supervisor tree can be
// one member of an errgroup.Group next to servers and pipelines:
//
//	g, ctx := errgroup.WithContext(ctx)
//	g.Go(func() error { return sup.Run(ctx) })
//	g.Go(func() error { return p.Run(ctx) }) // a pipeline
//	err := g.Wait()
//
// If the supervisor stops by itself first, Run returns what Wait returns:
// a *GaveUpError (matching ErrGaveUp or ErrAutoShutdown) when it gave up,
// which makes the group cancel its other members; nil if someone else
// stopped it. If ctx ends first, Run stops the supervisor (as Stop does,
// waiting for its children to stop within their shutdown times) and
// returns ctx.Err(), as pipeline.Pipeline.Run does; if the supervisor
// gave up meanwhile, it returns that instead. A nil ctx waits until the
// supervisor stops by itself. Run does not shut down the actor system the
// supervisor runs on.
func (s *Supervisor) Run(ctx context.Context) error {
	ctx = orBackground(ctx)
	select {
	case <-s.Done():
		return s.Wait(context.Background())
	case <-ctx.Done():
	}
	stopErr := s.Stop(context.WithoutCancel(ctx))
	if err := s.Wait(context.Background()); err != nil {
		return err
	}
	if stopErr != nil {
		return errors.Join(ctx.Err(), stopErr)
	}
	return ctx.Err()
}
