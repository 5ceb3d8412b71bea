package pipeline

import (
	"context"
	"reflect"
	"strings"
	"sync/atomic"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/observe"
	"github.com/troupe-go/troupe/strategy"
	"github.com/troupe-go/troupe/supervisor"
)

// stage is the type-independent part of a stage, a source or a merge
// node: its name, configuration, counters and the hooks its typed builder
// installs.
type stage struct {
	p     *Pipeline
	name  string
	kind  string
	cfg   stageConfig
	path  string // the stage supervisor's actor path ("" for sources)
	input string // the input item type, for Replay

	active atomic.Int32 // workers routed to (autoscaling)
	acks   atomic.Int32 // workers that have not handled their EOS yet

	// Hooks installed by the typed builder. init runs at Start in build
	// order; spec returns the stage supervisor's child spec (nil for
	// sources); onDone runs once, on the goroutine of the last worker to
	// handle its EOS; sweep runs after the actors stopped and dead-letters
	// what the stage still holds; inject replays dead letters.
	init   func() error
	spec   func() *supervisor.ChildSpec
	onDone func(ctx context.Context)
	sweep  func()
	inject func(ctx context.Context, dls []DeadLetter) ([]DeadLetter, error)
	// reset resets the builder's per-run state before a run after the
	// first (see rerun.go); active0 is the first run's active workers.
	reset   func()
	active0 int32
	// workers returns the per-worker view of the stage for Snapshot (nil
	// for sources and merges without workers of their own).
	workers func() []observe.Worker

	inputs []string // the producers feeding the stage, set while building

	stageCounters
}

// stageSpec wraps children in the stage supervisor's spec.
func (st *stage) stageSpec(children []supervisor.ChildSpec) *supervisor.ChildSpec {
	starts := 0
	opts := []supervisor.Option{
		supervisor.WithStrategy(st.cfg.kind),
		supervisor.WithIntensity(st.cfg.intensity, st.cfg.period),
		supervisor.WithInit(func(actor.Context) error {
			// Runs on the stage supervisor's goroutine at each start.
			starts++
			if starts > 1 {
				st.stageRestarts.Add(1)
			}
			return nil
		}),
	}
	if st.cfg.backoff.Min > 0 {
		opts = append(opts, supervisor.WithBackoff(st.cfg.backoff))
	}
	spec := supervisor.NewSupervisor(st.name, children, opts...)
	spec.Restart = strategy.Temporary
	if st.cfg.giveUp == RestartStage {
		spec.Restart = strategy.Permanent
	}
	return &spec
}

func typeName[T any]() string { return reflect.TypeFor[T]().String() }

func validName(name string) error {
	if name == "" || strings.ContainsRune(name, '/') || strings.HasPrefix(name, "$") {
		return invalidf("name %q (it must be non-empty, without '/', not starting with '$')", name)
	}
	return nil
}

// The actor kinds of the pipeline's actors (troupe.actor.kind in metrics
// and the tree view): bounded by code, the same for every pipeline; the
// troupe.stage.* metrics tell stages apart.
const (
	kindPipeline = "pipeline"         // a pipeline run as a supervisor's child
	kindWorker   = "pipeline.worker"  // a stage's worker
	kindReorder  = "pipeline.reorder" // the reorder buffer of an Ordered stage
	kindMerge    = "pipeline.merge"   // the worker of a PriorityMerge
	kindInlet    = "pipeline.inlet"   // the actor behind FromRef's Ref
)

// profileLabels is the spawn option that labels the stage's workers in
// profiles, under actor.WithProfilerLabels on the pipeline's System.
func (st *stage) profileLabels() actor.SpawnOption {
	return actor.WithExtraProfilerLabels(observe.AttrPipeline, st.p.cfg.name, observe.AttrStage, st.name)
}
