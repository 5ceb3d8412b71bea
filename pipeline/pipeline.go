package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/supervisor"
)

type pstate uint8

const (
	building pstate = iota
	running
	finished
)

// A Pipeline is a graph of stages built with the functions of this
// package (FromSlice, Map, ToFunc, ...) and run under one supervisor
// tree. Build it completely, then call Run (or Start and Wait). A
// Pipeline is a definition: once a run ended, Rerun starts it again (a
// new incarnation, see Rerun), and Spec makes it a supervisor's child,
// which its parent restarts the same way. Its methods are safe for
// concurrent use.
//
// Errors made while building (a nil function, zero workers, a duplicate
// name, ...) are recorded and returned by Start and Run, wrapped around
// ErrInvalid, so a build needs no error checks between steps.
type Pipeline struct {
	cfg config
	dlq DeadLetterStore

	mu      sync.Mutex // guards everything up to the next blank line
	state   pstate
	errs    []error
	stages  []*stage
	names   map[string]bool
	streams []danglingCheck
	runners []func() // sources and background loops, started after the actors
	closers []func() // run last, after everything stopped (ToChan)
	sinks   int
	trackd  bool       // a resumable source asked for a tracker
	ckpt    stateCoord // resumable sources and keyed stages, for state checkpoints
	runs    int        // runs started (incarnations)
	once    []string   // stages that cannot run again (ToChan, Dynamic)
	env     *runEnv    // where the current run lives (nil: its own System)

	// Set by Start before anything runs, read-only after.
	sys       *actor.System
	root      *supervisor.Supervisor
	rootPath  string
	byPath    map[string]*stage
	tracker   *tracker
	runCtx    context.Context // cancelled when the pipeline aborts
	runCancel context.CancelFunc
	srcCtx    context.Context // cancelled when sources must stop reading
	srcCancel context.CancelFunc
	bgCtx     context.Context // background loops
	bgCancel  context.CancelFunc

	stopping  atomic.Bool // set once: the pipeline is aborting
	draining  atomic.Bool // set once: Stop was called, or the pipeline is shutting down
	failMu    sync.Mutex  // guards failErr
	failErr   error
	failCh    chan struct{} // closed by the first fail
	sinksLeft atomic.Int32
	sinksDone chan struct{} // closed when every sink handled its EOS
	done      chan struct{} // closed when the pipeline stopped; result is set before
	result    error
	srcWG     sync.WaitGroup // source goroutines; Add only through goSource
	srcClosed bool           // guarded by mu: no more source goroutines
	srcLive   atomic.Int32   // source goroutines running (abandoned ones included)
	bgWG      sync.WaitGroup // background goroutines (checkpoints, autoscaler)
	watchWG   sync.WaitGroup // root watchers on a System the pipeline does not own
	unreg     func()         // removes the pipeline from a foreign System's Snapshot

	dlID atomic.Uint64
	seq  atomic.Uint64

	deadLog     deadLog
	slotsByPath map[string]*slotStats // set by Start, read-only after
	started     time.Time
}

type danglingCheck interface {
	dangling() (producer string, ok bool)
}

// New returns an empty pipeline. Invalid options are reported by Start.
func New(opts ...Option) *Pipeline {
	p := &Pipeline{
		cfg: defaultConfig(), names: map[string]bool{},
		failCh: make(chan struct{}), sinksDone: make(chan struct{}), done: make(chan struct{}),
	}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(&p.cfg); err != nil {
			p.errs = append(p.errs, err)
		}
	}
	p.dlq = p.cfg.dlq
	if p.dlq == nil {
		p.dlq = NewMemoryStore(DefaultDeadLetters)
	}
	return p
}

// addErr records a build error.
func (p *Pipeline) addErr(err error) {
	p.mu.Lock()
	p.errs = append(p.errs, err)
	p.mu.Unlock()
}

// newStage registers a stage (or source) named name.
func (p *Pipeline) newStage(name, kind string, opts []StageOption) (*stage, error) {
	cfg, err := buildStageConfig(opts)
	if err == nil {
		err = validName(name)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil && p.state != building {
		err = ErrClosed
	}
	if err == nil && p.names[name] {
		err = invalidf("duplicate name %q", name)
	}
	if err != nil {
		err = fmt.Errorf("%s %q: %w", kind, name, err)
		p.errs = append(p.errs, err)
		return nil, err
	}
	p.names[name] = true
	st := &stage{p: p, name: name, kind: kind, cfg: cfg}
	st.active.Store(int32(cfg.workers))
	if cfg.scale != nil {
		st.active.Store(int32(cfg.scale.Min))
	}
	p.stages = append(p.stages, st)
	return st, nil
}

// A Stream[T] is the output of a source, stage or merge: a typed edge of
// the pipeline. Every stream must be consumed exactly once, by a stage, a
// sink, a merge, Tee or Split. The zero Stream and a nil *Stream are
// detached: building on them does nothing.
type Stream[T any] struct {
	p        *Pipeline
	producer string
	target   target[T] // set once, by the consumer
	broken   bool      // its producer failed to build: do not report it unconsumed
	from     []string  // the stages producing it (several after a Merge)
}

func newStream[T any](p *Pipeline, producer string, broken bool) *Stream[T] {
	s := &Stream[T]{p: p, producer: producer, broken: broken, from: []string{producer}}
	if p != nil && !broken {
		p.mu.Lock()
		p.streams = append(p.streams, s)
		p.mu.Unlock()
	}
	return s
}

func (s *Stream[T]) dangling() (string, bool) { return s.producer, s.target == nil && !s.broken }

// Pipeline returns the pipeline the stream belongs to (nil if detached).
func (s *Stream[T]) Pipeline() *Pipeline {
	if s == nil {
		return nil
	}
	return s.p
}

// connect makes t the consumer of s.
func connect[T any](s *Stream[T], consumer string, t target[T]) error {
	p := s.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state != building {
		return ErrClosed
	}
	if s.target != nil {
		err := invalidf("the output of %q is consumed twice (again by %q)", s.producer, consumer)
		p.errs = append(p.errs, err)
		return err
	}
	s.target = t
	return nil
}

// absorb marks s as consumed by a consumer that failed to build, so the
// error is reported once, not again as an unconsumed stream.
func absorb[T any](s *Stream[T]) {
	if !usable(s) {
		return
	}
	s.p.mu.Lock()
	if s.target == nil {
		s.broken = true
	}
	s.p.mu.Unlock()
}

// usable reports whether s can be built on.
func usable[T any](s *Stream[T]) bool { return s != nil && s.p != nil }

// Start validates the pipeline and starts it: its supervisor tree, then
// its sources. It returns at once; use Wait for the outcome. Cancelling
// ctx aborts the pipeline (see the package doc for what happens to items
// in flight). Start returns an error wrapping ErrInvalid for a pipeline
// built wrong, ErrClosed if it was already started (Rerun starts a
// pipeline whose run ended), or ctx.Err(). A nil ctx is
// context.Background(): the pipeline runs until its input ends or Stop.
func (p *Pipeline) Start(ctx context.Context) error { return p.start(ctx, nil, false) }

// Rerun starts a new run of a pipeline whose previous run ended (after
// Wait returned): the same graph, as a new incarnation. Counters (Stats,
// StageStats, Observe) start from zero; the dead-letter store is kept;
// resumable sources start from their checkpoint; a Collector keeps what
// it gathered. It returns ErrNotRunning before the first Start, ErrRunning
// while a run is in progress, and an error wrapping ErrInvalid for a
// pipeline that cannot run again: one with a ToChan sink (its channel was
// closed) or a Dynamic merge, or whose previous run left a source running
// past WithShutdown. Otherwise it is Start.
func (p *Pipeline) Rerun(ctx context.Context) error {
	p.mu.Lock()
	st := p.state
	p.mu.Unlock()
	if st == building {
		return ErrNotRunning
	}
	return p.start(ctx, nil, true)
}

// start starts a run: on the pipeline's own System (env nil and no
// WithSystem), or under env.parent. again allows a run after one ended.
func (p *Pipeline) start(ctx context.Context, env *runEnv, again bool) error {
	ctx = orBackground(ctx)
	if env == nil && p.cfg.sys != nil {
		env = &runEnv{parent: p.cfg.sys, sys: p.cfg.sys}
	}
	p.mu.Lock()
	switch {
	case p.state == running && again:
		p.mu.Unlock()
		return ErrRunning
	case p.state == running, p.state == finished && !again:
		p.mu.Unlock()
		return ErrClosed
	case p.state == finished:
		if err := p.resetLocked(); err != nil {
			p.mu.Unlock()
			return err
		}
	}
	p.state = running
	p.runs++
	p.env = env
	if p.runs == 1 {
		for _, st := range p.stages {
			st.active0 = st.active.Load()
		}
	}
	errs := append([]error(nil), p.errs...)
	for _, s := range p.streams {
		if producer, ok := s.dangling(); ok {
			errs = append(errs, invalidf("the output of %q is not consumed", producer))
		}
	}
	if len(p.stages) == 0 {
		errs = append(errs, invalidf("empty pipeline"))
	}
	if env != nil && (p.cfg.faults != nil || p.cfg.events != nil || len(p.cfg.sysOpts) > 0) {
		errs = append(errs, invalidf("WithFaultInjector, WithEvents and WithActorOptions configure the pipeline's own System; "+
			"on a given System (WithSystem, Spec) configure that System instead"))
	}
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	p.mu.Unlock()
	if len(errs) > 0 {
		return p.finishEarly(errors.Join(errs...))
	}

	p.runCtx, p.runCancel = context.WithCancel(context.Background())
	p.srcCtx, p.srcCancel = context.WithCancel(p.runCtx)
	p.bgCtx, p.bgCancel = context.WithCancel(context.Background())
	if p.trackd {
		t := newTracker(p)
		p.mu.Lock() // Observe reads it
		p.tracker = t
		p.mu.Unlock()
	}
	var sys *actor.System
	rootPath := "/" + p.cfg.name
	if env == nil {
		sysOpts := append(p.cfg.sysOpts[:len(p.cfg.sysOpts):len(p.cfg.sysOpts)],
			actor.WithName(p.cfg.name), actor.WithLogger(p.cfg.log),
			actor.WithEvents(p.onEvent))
		if p.cfg.faults != nil {
			sysOpts = append(sysOpts, actor.WithFaultInjector(p.cfg.faults))
		}
		sys = actor.NewSystem(sysOpts...)
	} else {
		sys = env.sys
		rootPath = env.base + "/" + p.cfg.name
	}
	if p.rootPath != rootPath { // Observe may read the paths of the last run
		p.rootPath = rootPath
	}
	p.byPath = map[string]*stage{}
	if p.slotsByPath == nil {
		p.slotsByPath = map[string]*slotStats{}
	}
	p.started = time.Now()
	p.sinksLeft.Store(int32(p.sinks))
	stop := func() {
		if env == nil {
			_ = sys.Shutdown(context.Background())
		}
	}
	var specs []supervisor.ChildSpec
	for _, st := range p.stages {
		if st.init != nil {
			if err := st.init(); err != nil {
				stop()
				return p.finishEarly(err)
			}
		}
		if st.spec != nil {
			if sp := st.spec(); sp != nil {
				specs = append(specs, *sp)
				if path := rootPath + "/" + st.name; st.path != path {
					st.path = path
				}
				p.byPath[st.path] = st
			}
		}
	}
	// Published once the paths are set: Observe reads them.
	p.mu.Lock()
	p.sys = sys
	p.mu.Unlock()
	parent := actor.Spawner(sys)
	if env != nil {
		parent = env.parent
	}
	root, err := supervisor.Start(parent, p.cfg.name, specs,
		supervisor.WithIntensity(p.cfg.stageRestarts, p.cfg.stagePeriod))
	if err != nil {
		stop()
		return p.finishEarly(fmt.Errorf("pipeline: start: %w", err))
	}
	p.root = root
	if env == nil {
		// The system belongs to the pipeline: no need to unregister.
		_ = p.sys.RegisterPipeline(p.Observe)
	} else {
		p.unreg = sys.RegisterPipeline(p.Observe)
		p.watchRoot(root)
	}
	if p.sinks == 0 {
		close(p.sinksDone)
	}
	p.mu.Lock()
	runners := p.runners
	p.mu.Unlock()
	for _, r := range runners {
		r()
	}
	// Owner: this goroutine ends the pipeline; it exits after closing
	// p.done, which Wait waits for.
	go p.manage(ctx)
	return nil
}

func (p *Pipeline) finishEarly(err error) error {
	p.mu.Lock()
	p.state = finished
	p.result = err
	closers := p.closers
	done := p.done
	env := p.env
	p.mu.Unlock()
	if p.runs <= 1 {
		// ToChan channels are closed once, at the end of the first run
		// (a pipeline with one cannot run again).
		for _, c := range closers {
			c()
		}
	}
	close(done)
	if env != nil && env.ended != nil {
		env.ended(err)
	}
	return err
}

// fail records the pipeline's fatal error (the first one wins) and makes
// it abort.
func (p *Pipeline) fail(err error) {
	p.failMu.Lock()
	defer p.failMu.Unlock()
	if p.failErr != nil {
		return
	}
	p.failErr = err
	p.stopping.Store(true)
	close(p.failCh)
}

func (p *Pipeline) cause() error {
	p.failMu.Lock()
	defer p.failMu.Unlock()
	return p.failErr
}

// sinkDone is called once per sink, when it has handled its EOS.
func (p *Pipeline) sinkDone() {
	if p.sinksLeft.Add(-1) == 0 {
		close(p.sinksDone)
	}
}

// manage waits for the end of the pipeline and stops it.
func (p *Pipeline) manage(ctx context.Context) {
	select {
	case <-p.sinksDone:
	case <-p.failCh:
	case <-ctx.Done():
		p.fail(ctx.Err())
	}
	p.draining.Store(true)
	cause := p.cause()
	clean := cause == nil
	if !clean {
		p.stopping.Store(true)
		p.runCancel()
	}
	p.srcCancel()
	p.mu.Lock()
	p.srcClosed = true // no srcWG.Add may race with the Wait below
	p.mu.Unlock()
	if !waitTimeout(&p.srcWG, p.cfg.shutdown) {
		p.cfg.log.Warn("pipeline: a source did not return after its context ended; abandoned")
	}
	p.runCancel()
	p.bgCancel()
	p.bgWG.Wait()
	sctx, cancel := context.WithTimeout(context.Background(), 2*p.cfg.shutdown+time.Second)
	var serr error
	if p.env == nil {
		serr = p.sys.Shutdown(sctx)
	} else {
		serr = p.root.Stop(sctx)
		p.watchWG.Wait()
	}
	if serr != nil {
		p.cfg.log.Warn("pipeline: actors did not stop in time", zap.Error(serr))
	}
	cancel()
	p.stopping.Store(true) // late dead letters (abandoned actors) are stopped items
	p.mu.Lock()
	stages := p.stages
	closers := p.closers
	p.mu.Unlock()
	for _, st := range stages {
		if st.sweep != nil {
			st.sweep()
		}
	}
	if p.tracker != nil {
		p.tracker.commitAll(context.Background())
	}
	for _, c := range closers {
		c()
	}
	p.logEnd(cause, time.Since(p.started))
	if p.unreg != nil {
		p.unreg()
		p.unreg = nil
	}
	p.mu.Lock()
	p.state = finished
	p.result = cause
	done := p.done
	env := p.env
	p.mu.Unlock()
	close(done)
	if env != nil && env.ended != nil {
		env.ended(cause)
	}
}

// goSource runs f on a new source goroutine, unless the pipeline is
// stopping its sources (then it reports false).
func (p *Pipeline) goSource(f func()) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.srcClosed {
		return false
	}
	p.srcWG.Add(1)
	p.srcLive.Add(1)
	// Owner: the pipeline. f ends when its input ends or when srcCtx is
	// cancelled; manage waits for it (srcWG) before stopping the actors.
	go func() {
		defer p.srcWG.Done()
		defer p.srcLive.Add(-1)
		f()
	}()
	return true
}

// waitTimeout waits for wg at most d; it reports whether wg finished.
func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	ch := make(chan struct{})
	// Owner: exits when wg is done; abandoned (and reported) otherwise.
	go func() { wg.Wait(); close(ch) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return false
	}
}

// Wait waits until the pipeline has stopped and returns why: nil after
// the end of every input was delivered (or after a graceful Stop), the
// first fatal error (a *StageError, a context error if the Start context
// was cancelled, ErrDrainTimeout), or ErrNotRunning before Start. If ctx
// ends first Wait returns ctx.Err() and the pipeline goes on. A nil ctx
// waits as long as it takes.
func (p *Pipeline) Wait(ctx context.Context) error {
	p.mu.Lock()
	st, done := p.state, p.done
	p.mu.Unlock()
	if st == building {
		return ErrNotRunning
	}
	ctx = orBackground(ctx)
	select {
	case <-done:
		return p.resultOf()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// resultOf returns the result of the last run that ended.
func (p *Pipeline) resultOf() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.result
}

// doneCh returns the done channel of the current run.
func (p *Pipeline) doneCh() chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

// Run starts the pipeline and waits until it stops: Start, then Wait.
// Cancelling ctx aborts the pipeline; Run then returns ctx.Err() once it
// has stopped.
func (p *Pipeline) Run(ctx context.Context) error {
	if err := p.Start(ctx); err != nil {
		return err
	}
	<-p.doneCh()
	return p.resultOf()
}

// orBackground is the package's rule for a nil context: it is
// context.Background().
func orBackground(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}

// Done returns a channel closed when the current (or last) run of the
// pipeline has stopped.
func (p *Pipeline) Done() <-chan struct{} { return p.doneCh() }

// Stop stops the pipeline gracefully: the sources stop reading their
// input, what they already read flows to the sinks, then the pipeline
// stops and Stop returns nil (and Wait too). If ctx ends first, the
// pipeline is aborted as if cancelled and Stop returns an error wrapping
// ErrDrainTimeout and ctx.Err(). Stop is idempotent and safe from several
// goroutines; it returns ErrNotRunning before Start.
func (p *Pipeline) Stop(ctx context.Context) error {
	p.mu.Lock()
	st, done := p.state, p.done
	p.mu.Unlock()
	if st == building {
		return ErrNotRunning
	}
	if st == finished {
		return p.resultOf()
	}
	ctx = orBackground(ctx)
	p.draining.Store(true)
	if p.srcCancel != nil {
		p.srcCancel()
	}
	select {
	case <-done:
		return p.resultOf()
	case <-ctx.Done():
		p.fail(fmt.Errorf("%w: %w", ErrDrainTimeout, ctx.Err()))
		<-done
		return p.resultOf()
	}
}

// Stats returns the counters of every source, stage, merge and sink, in
// the order they were built.
func (p *Pipeline) Stats() []StageStats {
	p.mu.Lock()
	stages := p.stages
	p.mu.Unlock()
	out := make([]StageStats, len(stages))
	for i, st := range stages {
		out[i] = st.stats()
	}
	return out
}

// StageStats returns the counters of the stage named name.
func (p *Pipeline) StageStats(name string) (StageStats, bool) {
	p.mu.Lock()
	stages := p.stages
	p.mu.Unlock()
	for _, st := range stages {
		if st.name == name {
			return st.stats(), true
		}
	}
	return StageStats{}, false
}

// DeadLetters returns the pipeline's dead-letter store.
func (p *Pipeline) DeadLetters() DeadLetterStore { return p.dlq }

// Replay takes the dead letters keep accepts (all if keep is nil) out of
// the store and sends their items back into the stages they were
// dead-lettered from, as new input (they count in In again, and get a
// fresh set of attempts). It returns how many items it sent. Entries that
// could not be sent (their stage already got its end of stream, or ctx
// ended) go back into the store. Replay needs a running pipeline.
func (p *Pipeline) Replay(ctx context.Context, keep func(DeadLetter) bool) (int, error) {
	p.mu.Lock()
	state := p.state
	stages := p.stages
	p.mu.Unlock()
	switch state {
	case building:
		return 0, ErrNotRunning
	case finished:
		return 0, ErrClosed
	}
	select {
	case <-p.doneCh():
		return 0, ErrClosed
	default:
	}
	ctx = orBackground(ctx)
	byName := map[string]*stage{}
	for _, st := range stages {
		byName[st.name] = st
	}
	taken := p.dlq.Take(keep)
	groups := map[string][]DeadLetter{}
	var order []string
	for _, d := range taken {
		if _, ok := groups[d.Stage]; !ok {
			order = append(order, d.Stage)
		}
		groups[d.Stage] = append(groups[d.Stage], d)
	}
	sent := 0
	var errs []error
	for _, name := range order {
		dls := groups[name]
		st := byName[name]
		if st == nil || st.inject == nil {
			for _, d := range dls {
				p.dlq.Add(d)
			}
			errs = append(errs, invalidf("stage %q cannot take replayed items", name))
			continue
		}
		rest, err := st.inject(ctx, dls)
		sent += len(dls) - len(rest)
		for _, d := range rest {
			p.dlq.Add(d)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("stage %q: %w", name, err))
		}
	}
	return sent, errors.Join(errs...)
}

// onEvent is the actor system's event hook: it turns a stage supervisor
// giving up into the pipeline's fatal error (FailPipeline), or the root
// supervisor giving up (too many stage restarts).
func (p *Pipeline) onEvent(e actor.Event) {
	if p.cfg.events != nil {
		p.cfg.events(e)
	}
	if e.Kind == actor.EventFailed {
		p.onWorkerFailed(e)
	}
	if e.Kind != actor.EventGaveUp {
		return
	}
	if e.Path == p.rootPath {
		name := ""
		var g *supervisor.GaveUpError
		if errors.As(e.Err, &g) {
			name = g.Child
		}
		p.fail(&StageError{Stage: name, Err: e.Err})
		return
	}
	if st := p.byPath[e.Path]; st != nil && st.cfg.giveUp == FailPipeline {
		p.fail(&StageError{Stage: st.name, Err: e.Err})
	}
}
