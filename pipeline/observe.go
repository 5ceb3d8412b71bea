package pipeline

import (
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/observe"
)

// System returns the actor system the pipeline runs on, nil before
// Start. Its Snapshot (an observe.Source, for treeview.Handler and the
// prom and otel adapters) holds the pipeline's supervision tree and, in
// Snapshot.Pipelines, the pipeline as Observe returns it. A system of
// the pipeline's own shuts down when the pipeline stops (a Snapshot of it
// then shows the final counters); on a given System (WithSystem, Spec) the
// pipeline is in Snapshot.Pipelines while a run is in progress.
func (p *Pipeline) System() *actor.System {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sys
}

// Observe returns the pipeline as data: its state, checkpoint positions
// and, per stage in build order, the counters of Stats and those of each
// worker. It reads counters only and never blocks on a worker, so it is
// safe to call at any time, from any goroutine (for example as the
// function given to another System's RegisterPipeline).
func (p *Pipeline) Observe() observe.Pipeline {
	p.mu.Lock()
	stages := p.stages
	started := p.sys != nil // then the paths and the tracker are set
	tracker := p.tracker
	p.mu.Unlock()
	out := observe.Pipeline{Name: p.cfg.name, State: p.stateName(), Stages: make([]observe.Stage, 0, len(stages))}
	for _, st := range stages {
		out.Stages = append(out.Stages, st.observe(started))
	}
	if t := tracker; started && t != nil {
		t.mu.Lock()
		srcs := append([]*trackedSource(nil), t.srcs...)
		t.mu.Unlock()
		for _, s := range srcs {
			c := observe.Checkpoint{Source: s.name, Watermark: t.position(s)}
			if s.committedOK.Load() {
				v := s.committed.Load()
				c.Committed = &v
			}
			out.Checkpoints = append(out.Checkpoints, c)
		}
	}
	return out
}

// Pipeline states as Observe reports them.
const (
	stateRunning  = "running"
	stateDraining = "draining"
	stateDone     = "done"
	stateFailed   = "failed"
)

func (p *Pipeline) stateName() string {
	p.mu.Lock()
	st, res := p.state, p.result
	p.mu.Unlock()
	switch {
	case st == building:
		return "building"
	case st == finished && res == nil:
		return stateDone
	case st == finished || p.cause() != nil:
		return stateFailed
	case p.draining.Load():
		return stateDraining
	}
	return stateRunning
}

func (st *stage) observe(started bool) observe.Stage {
	s := st.stats()
	o := observe.Stage{
		Name: st.name, Kind: st.kind, Inputs: st.inputs,
		Received: s.In, Emitted: s.Emitted, Processed: s.Out, Filtered: s.Filtered,
		Failures: s.Errors, Retried: s.Retries, DeadLettered: s.DeadLettered,
		InFlight: s.InFlight, Queued: s.Queued,
		BlockedSeconds: time.Duration(st.blocked.Load()).Seconds(),
		ActiveWorkers:  s.Workers, MinWorkers: st.cfg.workers, MaxWorkers: st.cfg.workers,
		Restarts: s.Restarts, StageRestarts: s.StageRestarts,
	}
	if sc := st.cfg.scale; sc != nil {
		o.MinWorkers, o.MaxWorkers = sc.Min, sc.Max
	}
	if started && st.workers != nil {
		o.Workers = st.workers()
	}
	return o
}

// observeWorkers returns the per-worker counters of the stage's slots.
func (in *inbox[T]) observeWorkers() []observe.Worker {
	st := in.st
	status := observe.StatusRunning
	if st.p.stateName() == stateDone || st.p.isFinished() {
		status = observe.StatusStopped
	}
	out := make([]observe.Worker, len(in.slots))
	for i, s := range in.slots {
		ss := &s.stats
		taken := ss.taken.Load() // before recv: recv only grows past it
		w := observe.Worker{
			Index: i, Path: st.path + "/" + s.name, Status: status,
			Received: ss.recv.Load(), Processed: ss.done.Load(),
			Restarts: ss.restarts.Load(), Failures: ss.errs.Load(),
		}
		w.Queue = int(max(int64(w.Received)-taken, 0))
		if status == observe.StatusRunning && s.ref.Load() == nil {
			w.Status = observe.StatusStarting
		}
		if t := ss.busySince.Load(); t != 0 {
			since := monoWall(time.Duration(t))
			w.Busy, w.BusySince = true, &since
		}
		out[i] = w
	}
	return out
}

func (p *Pipeline) isFinished() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state == finished
}
