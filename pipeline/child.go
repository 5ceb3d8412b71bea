package pipeline

import (
	"context"
	"errors"
	"fmt"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/supervisor"
)

// runEnv is where a run's actors live when the pipeline does not own its
// System: under parent (a System, or the actor of a pipeline child) on
// sys.
type runEnv struct {
	parent actor.Spawner
	sys    *actor.System
	base   string // parent's path ("" for a System)
	// stopping reports that the parent is stopping the run (its stage
	// supervisors stop before the pipeline hears of it).
	stopping func() bool
	// ended is called with the run's result after Done was closed.
	ended func(err error)
}

// WithSystem makes the pipeline run on sys instead of on a System of its
// own: its root supervisor is the top-level actor /<name> of sys (see
// WithName; two pipelines on one System need different names), so sys's
// Snapshot and tree view show its stages and workers in place, and
// Snapshot.Pipelines holds the pipeline while a run is in progress. sys
// needs no option of its own: the batches its runtime cannot deliver to a
// pipeline worker (it stopped or restarted with batches queued) go back
// to the pipeline through the workers' own hook (actor.WithUndelivered),
// never to sys's dead letters. WithEvents, WithFaultInjector and
// WithActorOptions, which configure the pipeline's own System, are
// refused (ErrInvalid): set them on sys.
// The pipeline never shuts sys down. A nil sys is skipped.
func WithSystem(sys *actor.System) Option {
	return optionFunc(func(c *config) error {
		if sys != nil {
			c.sys = sys
		}
		return nil
	})
}

// errParentStopped is the result of a run stopped by the supervisor of a
// pipeline child (a context.Canceled: logged at Info).
var errParentStopped = fmt.Errorf("pipeline: stopped by its supervisor: %w", context.Canceled)

// watchRoot makes the run fail when its stage supervisors give up, on a
// System whose events the pipeline does not see: a stage with
// WithGiveUp(FailPipeline) that stops, or the root supervisor stopping by
// itself (too many stage restarts, or killed with its parent), fail the
// run unless it is already ending or its parent is stopping it.
func (p *Pipeline) watchRoot(root *supervisor.Supervisor) {
	env := p.env
	quiet := func() bool {
		return p.draining.Load() || p.stopping.Load() || (env.stopping != nil && env.stopping())
	}
	for _, st := range p.stages {
		if st.spec == nil || st.cfg.giveUp != FailPipeline {
			continue
		}
		sup, err := supervisor.FindSupervisor(root, st.name)
		if err != nil {
			continue // a worker child (a FromRef source): it has no supervisor to give up
		}
		sup.PID().Watch(func(t actor.Terminated) {
			if quiet() {
				return
			}
			cause := t.Err
			if cause == nil || !errors.Is(cause, supervisor.ErrGaveUp) {
				cause = fmt.Errorf("%w: %v", supervisor.ErrGaveUp, t.Err)
			}
			p.fail(&StageError{Stage: st.name, Err: cause})
		})
	}
	p.watchWG.Add(1)
	root.PID().Watch(func(actor.Terminated) {
		// Owner: the pipeline; it ends at once (the root has stopped),
		// and manage waits for it (watchWG) after stopping the root.
		go func() {
			defer p.watchWG.Done()
			err := root.Wait(context.Background())
			if quiet() {
				return
			}
			stage := ""
			var g *supervisor.GaveUpError
			if errors.As(err, &g) {
				stage = g.Child
			}
			if err == nil {
				err = errParentStopped
			}
			p.fail(&StageError{Stage: stage, Err: err})
		}()
	})
}

// Spec returns the child spec of a supervisor child that runs the
// pipeline: each start of the child starts a run, whose root supervisor
// is the child's only child, named like the pipeline, so the tree view
// shows /…/<id>/<name>/<stage>/w<i> in place. The run's end is the
// child's exit: a run that ended with nil (its input ended, or Stop) is a
// normal exit, a failed run a failure exit with its error, so the
// parent's rules apply as in OTP: a Transient child is restarted only
// after a failure, a Temporary one never, a Permanent one always (even
// after a normal end: a pipeline that is meant to end should be
// Transient). Each restart is a new run (see Rerun), and a resumable
// source resumes from its checkpoint. Stopping the child (the parent
// stops or restarts it) aborts the run: items inside it are
// dead-lettered as stopped, and its checkpoint covers none of them.
//
// The spec's Restart is Permanent and its Shutdown actor.Infinity (the
// run bounds its own stop, see WithShutdown); set the fields to
// change them. A pipeline that cannot start (built wrong, a ToChan sink on a restart)
// fails the child's start. Don't also Start the pipeline yourself while
// it is a child.
func (p *Pipeline) Spec(id string) supervisor.ChildSpec {
	spec := supervisor.NewWorker(id, func() actor.Actor[hostMsg] { return &host{p: p} }, actor.WithKind(kindPipeline),
		actor.WithUndelivered(dropHostMsg))
	spec.Shutdown = actor.Infinity
	return spec
}

// hostMsg tells a pipeline child that run ended with err.
type hostMsg struct {
	run int
	err error
}

// dropHostMsg is the pipeline child's WithUndelivered hook: a note to a
// child that is stopping is not a lost message.
func dropHostMsg(d actor.DeadLetter) bool {
	_, ok := d.Message.(hostMsg)
	return ok
}

// host is one incarnation of a pipeline child: it starts a run in Start
// and ends when the run ends.
type host struct {
	p   *Pipeline
	run int
}

func (h *host) Start(ctx actor.Context) error {
	p := h.p
	// A run of an earlier incarnation that is still stopping (its child
	// was killed) ends first.
	if err := p.abortRun(ctx, errParentStopped); err != nil {
		return err
	}
	ref, _ := actor.Self[hostMsg](ctx)
	env := &runEnv{parent: ctx, sys: ctx.System(), base: ctx.Path(),
		stopping: func() bool { return ctx.Err() != nil }}
	env.ended = func(err error) {
		p.mu.Lock()
		run := p.runs
		p.mu.Unlock()
		if ctx.Err() == nil {
			_ = ref.Tell(context.Background(), hostMsg{run: run, err: err})
		}
	}
	err := p.start(context.Background(), env, true)
	p.mu.Lock()
	h.run = p.runs
	p.mu.Unlock()
	return err
}

func (h *host) Receive(_ actor.Context, m hostMsg) error {
	switch {
	case m.run != h.run:
		return nil // the end of an earlier incarnation's run
	case m.err == nil:
		return actor.StopNormal
	}
	return fmt.Errorf("pipeline %q: %w", h.p.cfg.name, m.err)
}

// Stop aborts the run when the child is stopped from outside; when the
// run ended by itself it has nothing to do.
func (h *host) Stop(ctx actor.Context, _ actor.ExitReason) {
	_ = h.p.abortRun(context.Background(), errParentStopped)
}

// abortRun aborts the run in progress, if any, with err and waits until
// it stopped (or ctx ended).
func (p *Pipeline) abortRun(ctx context.Context, err error) error {
	p.mu.Lock()
	st, done := p.state, p.done
	p.mu.Unlock()
	if st != running {
		return nil
	}
	p.fail(err)
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
