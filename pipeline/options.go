package pipeline

import (
	"math/rand/v2"
	"time"

	"go.uber.org/zap"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/mailbox"
	"github.com/troupe-go/troupe/strategy"
)

// Defaults of the pipeline and stage options.
const (
	DefaultBatchSize       = 128
	DefaultBuffer          = 1024 // items per worker
	DefaultMaxAttempts     = 3
	DefaultIntensity       = 20
	DefaultPeriod          = time.Second
	DefaultStageRestarts   = 3
	DefaultStagePeriod     = time.Minute
	DefaultShutdown        = 5 * time.Second
	DefaultLinger          = 200 * time.Microsecond
	DefaultCheckpointEvery = time.Second
	DefaultDeadLetters     = 10000
)

type config struct {
	name          string
	batch         int
	dlq           DeadLetterStore
	log           *zap.Logger
	events        func(actor.Event)
	stageRestarts int
	stagePeriod   time.Duration
	shutdown      time.Duration
	linger        time.Duration
	checkpoint    time.Duration
	faults        actor.FaultInjector
	seed          uint64         // of the workers' jitter generators
	sysOpts       []actor.Option // WithActorOptions, for an own System
	sys           *actor.System  // WithSystem: run there instead of on an own System
}

func defaultConfig() config {
	return config{
		name:          "pipeline",
		batch:         DefaultBatchSize,
		log:           zap.NewNop(),
		stageRestarts: DefaultStageRestarts,
		stagePeriod:   DefaultStagePeriod,
		shutdown:      DefaultShutdown,
		linger:        DefaultLinger,
		checkpoint:    DefaultCheckpointEvery,
		seed:          rand.Uint64(),
	}
}

// An Option configures a Pipeline.
type Option interface{ apply(*config) error }

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

// WithName names the pipeline; it is the path of its root supervisor and
// the name of its actor system (troupe.system in metrics). Default
// "pipeline".
func WithName(name string) Option {
	return optionFunc(func(c *config) error {
		if err := validName(name); err != nil {
			return err
		}
		c.name = name
		return nil
	})
}

// WithBatchSize sets how many items move between actors in one message.
// Producers flush a partial batch as soon as their own input is
// momentarily empty, so a larger size costs no latency at low load. It
// must be at least 1. Default DefaultBatchSize.
func WithBatchSize(n int) Option {
	return optionFunc(func(c *config) error {
		if n < 1 {
			return invalidf("batch size %d < 1", n)
		}
		c.batch = n
		return nil
	})
}

// WithDeadLetterStore sets where dead-lettered items go. Default: a
// [MemoryStore] holding the newest DefaultDeadLetters entries. A nil s is
// skipped.
func WithDeadLetterStore(s DeadLetterStore) Option {
	return optionFunc(func(c *config) error {
		if s != nil {
			c.dlq = s
		}
		return nil
	})
}

// WithLogger sets the logger of the pipeline and its actor system (see
// the package doc, "Observing a run", for what the pipeline logs).
// Default no-op. A nil l is skipped.
func WithLogger(l *zap.Logger) Option {
	return optionFunc(func(c *config) error {
		if l != nil {
			c.log = l
		}
		return nil
	})
}

// WithActorOptions passes options to the actor System the pipeline runs
// its stages on, such as [actor.WithMessageTiming], [actor.WithPropagator] or
// [actor.WithProfilerLabels] (under which each stage's workers also carry
// the labels troupe.pipeline and troupe.stage). They are applied before
// the pipeline's own: its name, logger, dead-letter and event sinks and
// fault injector stay the pipeline's. Nil options are skipped.
func WithActorOptions(opts ...actor.Option) Option {
	return optionFunc(func(c *config) error {
		for _, o := range opts {
			if o != nil {
				c.sysOpts = append(c.sysOpts, o)
			}
		}
		return nil
	})
}

// WithEvents sets a sink for the lifecycle events of the pipeline's
// actors and supervisors (see [actor.WithEvents]: it must be fast and
// must not block). A nil f is skipped.
func WithEvents(f func(actor.Event)) Option {
	return optionFunc(func(c *config) error {
		if f != nil {
			c.events = f
		}
		return nil
	})
}

// WithStageRestarts sets how often the pipeline's root supervisor
// restarts stages whose own supervisor gave up (for stages with
// WithGiveUp(RestartStage)): more than n restarts within period fail the
// pipeline. Default DefaultStageRestarts in DefaultStagePeriod.
func WithStageRestarts(n int, period time.Duration) Option {
	return optionFunc(func(c *config) error {
		if n < 0 || period <= 0 {
			return invalidf("stage restarts %d in %v", n, period)
		}
		c.stageRestarts, c.stagePeriod = n, period
		return nil
	})
}

// WithShutdown sets how long a stopping worker (or source) may
// take to return from user code before it is abandoned and reported as
// leaked. Default DefaultShutdown.
func WithShutdown(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d <= 0 {
			return invalidf("shutdown timeout %v", d)
		}
		c.shutdown = d
		return nil
	})
}

// WithFaultInjector installs a fault injector (see actor.FaultInjector
// and package chaos) in the actor system the pipeline runs on, so chaos
// tests can kill, slow or stall its workers by path
// ("/<pipeline>/<stage>/w<i>"). A nil f is skipped.
func WithFaultInjector(f actor.FaultInjector) Option {
	return optionFunc(func(c *config) error {
		if f != nil {
			c.faults = f
		}
		return nil
	})
}

// WithLinger sets how long FromSeq, FromFunc and FromResumable sources
// hold a partial batch while their producer is slow. (Slice and channel
// sources flush as soon as their input is momentarily empty.) Default
// DefaultLinger.
func WithLinger(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d <= 0 {
			return invalidf("linger %v", d)
		}
		c.linger = d
		return nil
	})
}

// WithCheckpointEvery sets how often resumable sources commit their low
// watermark. A final commit also happens when the pipeline stops.
// Default DefaultCheckpointEvery.
func WithCheckpointEvery(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d <= 0 {
			return invalidf("checkpoint interval %v", d)
		}
		c.checkpoint = d
		return nil
	})
}

// WithSeed makes the jitter of Retry backoffs reproducible. Each worker
// draws its jitter from its own generator, seeded from seed, its stage's
// name and its index, so a worker's delays do not depend on what the
// other workers do. Default: a random seed for each pipeline.
func WithSeed(seed uint64) Option {
	return optionFunc(func(c *config) error {
		c.seed = seed
		return nil
	})
}

// GiveUpPolicy says what the pipeline does when a stage's supervisor gives
// up (its restart intensity was exceeded).
type GiveUpPolicy uint8

const (
	// FailPipeline cancels the pipeline; Wait returns a *StageError
	// naming the stage and wrapping the supervisor's *GaveUpError.
	FailPipeline GiveUpPolicy = iota
	// RestartStage makes the pipeline's root supervisor start the stage
	// again with fresh workers; the items its old workers held are handed
	// to the new ones, with their progress. Past WithStageRestarts the
	// pipeline fails as with FailPipeline.
	RestartStage
)

type stageConfig struct {
	workers    int
	buffer     int
	router     Router
	attempts   int
	retry      strategy.Backoff
	kind       strategy.Strategy
	intensity  int
	period     time.Duration
	backoff    strategy.Backoff
	giveUp     GiveUpPolicy
	ordered    bool
	window     int
	overflow   mailbox.Policy
	timeout    time.Duration
	scale      *Scale
	workersSet bool
}

func defaultStageConfig() stageConfig {
	return stageConfig{
		workers:   1,
		buffer:    DefaultBuffer,
		attempts:  DefaultMaxAttempts,
		intensity: DefaultIntensity,
		period:    DefaultPeriod,
	}
}

// A StageOption configures one stage (or sink).
type StageOption interface{ applyStage(*stageConfig) error }

type stageFunc func(*stageConfig) error

func (f stageFunc) applyStage(c *stageConfig) error { return f(c) }

// WithWorkers sets the number of worker actors of the stage (fan-out). It
// must be at least 1. Default 1.
func WithWorkers(n int) StageOption {
	return stageFunc(func(c *stageConfig) error {
		if n < 1 {
			return invalidf("%d workers", n)
		}
		c.workers, c.workersSet = n, true
		return nil
	})
}

// WithBuffer bounds the items queued in each worker's mailbox: the mailbox
// holds ceil(n/batch size) batches. A full mailbox blocks the producer
// (backpressure). Default DefaultBuffer.
func WithBuffer(n int) StageOption {
	return stageFunc(func(c *stageConfig) error {
		if n < 1 {
			return invalidf("buffer %d < 1", n)
		}
		c.buffer = n
		return nil
	})
}

// WithRouter sets how producers spread items over the stage's workers.
// Default LeastLoaded().
func WithRouter(r Router) StageOption {
	return stageFunc(func(c *stageConfig) error {
		if r.IsZero() {
			return invalidf("zero Router")
		}
		c.router = r
		return nil
	})
}

// WithRetry sets how many times an item is attempted (returned errors and
// panics alike) before it is dead-lettered as poison, and the delay
// between attempts after a returned error (a panic restarts the worker,
// whose delay is the stage's WithSupervision backoff). Default DefaultMaxAttempts
// attempts, no delay.
//
// The delay after an item's n-th failed attempt is min(Min×Factor^(n−1),
// Max), spread by up to ±Jitter of it as [strategy.BackoffState.Next]
// says (ResetAfter is not used). Each worker draws the jitter of its
// items from its own generator (see WithSeed), so items that fail
// together do not retry together.
//
// An item waiting out its delay does not hold its worker: it is parked
// and the worker goes on with the items behind it, which therefore pass
// it, except in an Ordered stage (the reorder buffer keeps the order)
// and under ByKey routing (the later items of its key are parked behind
// it, in order; the other keys go on). A worker parks at most Buffer
// items; with that many parked it takes no further item until the
// earliest one is retried (backpressure). The end of stream waits for the
// parked items; an abort dead-letters them with DeadStopped. With a
// zero backoff an item is retried at once, in place.
func WithRetry(attempts int, backoff strategy.Backoff) StageOption {
	return stageFunc(func(c *stageConfig) error {
		if attempts < 1 {
			return invalidf("%d attempts", attempts)
		}
		if err := backoff.Validate(); err != nil {
			return invalidf("%v", err)
		}
		c.attempts, c.retry = attempts, backoff
		return nil
	})
}

// WithSupervision sets the stage supervisor: its strategy over the workers,
// restart intensity (more than maxRestarts in period make it give up) and
// restart backoff. Default one-for-one, DefaultIntensity in
// DefaultPeriod, no backoff.
func WithSupervision(kind strategy.Strategy, maxRestarts int, period time.Duration, backoff strategy.Backoff) StageOption {
	return stageFunc(func(c *stageConfig) error {
		if kind < strategy.OneForOne || kind > strategy.RestForOne || maxRestarts < 0 || period <= 0 {
			return invalidf("supervision %v %d in %v", kind, maxRestarts, period)
		}
		if err := backoff.Validate(); err != nil {
			return invalidf("%v", err)
		}
		c.kind, c.intensity, c.period, c.backoff = kind, maxRestarts, period, backoff
		return nil
	})
}

// WithGiveUp sets what happens when the stage's supervisor gives up.
// Default FailPipeline.
func WithGiveUp(p GiveUpPolicy) StageOption {
	return stageFunc(func(c *stageConfig) error {
		if p > RestartStage {
			return invalidf("give-up policy %d", p)
		}
		c.giveUp = p
		return nil
	})
}

// WithOrdered makes the stage emit its outputs in the order its input
// arrived, whatever order its workers finish in. window bounds the items
// between the stage's input and its reorder buffer; when it is reached,
// producers wait (backpressure); it is at least one batch. 0 means 2 ×
// workers × (mailbox capacity + 1) batches. Key routing already keeps
// per-key order and cannot be combined with WithOrdered.
func WithOrdered(window int) StageOption {
	return stageFunc(func(c *stageConfig) error {
		if window < 0 {
			return invalidf("reorder window %d", window)
		}
		c.ordered, c.window = true, window
		return nil
	})
}

// WithOverflow sets what a full worker mailbox does: mailbox.Block (the
// default) makes producers wait; mailbox.DropNewest and
// mailbox.DropOldest drop a whole batch, whose items are dead-lettered
// with DeadDropped. Reject is not allowed.
func WithOverflow(policy mailbox.Policy) StageOption {
	return stageFunc(func(c *stageConfig) error {
		if policy != mailbox.Block && policy != mailbox.DropNewest && policy != mailbox.DropOldest {
			return invalidf("overflow policy %v", policy)
		}
		c.overflow = policy
		return nil
	})
}

// WithTimeout gives each attempt of the stage's function a context with this
// deadline. An attempt that fails after its deadline counts as a failed
// attempt; an item whose last attempt timed out is dead-lettered with
// DeadTimeout. Go cannot preempt a function that ignores its context.
func WithTimeout(d time.Duration) StageOption {
	return stageFunc(func(c *stageConfig) error {
		if d <= 0 {
			return invalidf("timeout %v", d)
		}
		c.timeout = d
		return nil
	})
}

// WithAutoscale makes the number of active workers follow the stage's queue
// depth between s.Min and s.Max (see [Scale]). It replaces Workers.
func WithAutoscale(s Scale) StageOption {
	return stageFunc(func(c *stageConfig) error {
		s, err := s.Normalize()
		if err != nil {
			return wrapInvalid(err)
		}
		c.scale = &s
		c.workers = s.Max
		return nil
	})
}

func buildStageConfig(opts []StageOption) (stageConfig, error) {
	c := defaultStageConfig()
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.applyStage(&c); err != nil {
			return c, err
		}
	}
	if c.router.IsZero() {
		c.router = LeastLoaded()
	}
	if c.scale != nil && c.workersSet && c.workers != c.scale.Max {
		return c, invalidf("both Workers and Autoscale")
	}
	if c.ordered && c.overflow != mailbox.Block {
		return c, invalidf("a drop Overflow policy cannot be combined with Ordered (a dropped batch would never be reordered)")
	}
	if c.router.Rule() == routeKey && (c.ordered || c.scale != nil) {
		return c, invalidf("key routing cannot be combined with Ordered or Autoscale")
	}
	if w := c.router.Weights(); c.router.Rule() == routeWeighted && len(w) != c.workers {
		return c, invalidf("%d weights for %d workers", len(w), c.workers)
	}
	return c, nil
}
