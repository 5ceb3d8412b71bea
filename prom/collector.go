package prom

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/troupe-go/troupe/observe"
)

// Errors of the collector. Configuration errors are reported by Describe,
// so Registerer.Register returns them (wrapped); scrape errors are
// reported by Collect, so Gatherer.Gather returns them.
var (
	// ErrNilSource: NewCollector was given a nil Source.
	ErrNilSource = errors.New("prom: nil Source")
	// ErrInvalidOption: an option was given a value it cannot take.
	ErrInvalidOption = errors.New("prom: invalid option")
	// ErrSnapshotTimeout: the Source did not return a Snapshot within the
	// snapshot timeout; the scrape exports nothing of this collector.
	ErrSnapshotTimeout = errors.New("prom: snapshot timed out")
	// ErrSourcePanic: the Source's Snapshot panicked.
	ErrSourcePanic = errors.New("prom: Source panicked")
)

// defaultTimeout is the snapshot timeout without WithSnapshotTimeout.
const defaultTimeout = 2 * time.Second

// config is what the options set.
type config struct {
	system   string // "" means the Snapshot's System
	timeout  time.Duration
	maxKinds int
}

// An Option configures a Collector.
type Option interface{ apply(*config) error }

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

// WithSystemName sets the troupe_system label of every series, in place
// of the name the Source gives its snapshots (actor.WithName). An empty
// name or one that is not valid UTF-8 is an ErrInvalidOption.
func WithSystemName(name string) Option {
	return optionFunc(func(c *config) error {
		if name == "" || !utf8.ValidString(name) {
			return fmt.Errorf("%w: WithSystemName(%q): want a non-empty UTF-8 name", ErrInvalidOption, name)
		}
		c.system = name
		return nil
	})
}

// WithSnapshotTimeout bounds how long a scrape waits for the Source: its
// context ends after three quarters of d, and if it has not returned
// after d the scrape fails with ErrSnapshotTimeout. The default is 2 s,
// well inside Prometheus's default scrape timeout of 10 s. A d that is
// not positive is an ErrInvalidOption.
func WithSnapshotTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: WithSnapshotTimeout(%v): want a positive duration", ErrInvalidOption, d)
		}
		c.timeout = d
		return nil
	})
}

// WithMaxKinds caps the distinct troupe_actor_kind values at n; further
// kinds are added into the kind "other" and counted by
// troupe_telemetry_kind_overflow_total. The default is
// observe.DefaultMaxKinds. An n below 1 is an ErrInvalidOption.
func WithMaxKinds(n int) Option {
	return optionFunc(func(c *config) error {
		if n < 1 {
			return fmt.Errorf("%w: WithMaxKinds(%d): want at least 1", ErrInvalidOption, n)
		}
		c.maxKinds = n
		return nil
	})
}

// exported lists the metrics of observe.Metrics this collector exports,
// with the attribute keys in the order Collect gives their values.
// NewCollector checks them against observe.Metrics, so a change there
// fails registration instead of mislabelling a series.
var exported = []struct {
	name  string
	attrs []string
}{
	{"troupe_actor_spawns_total", []string{observe.AttrSystem, observe.AttrActorKind}},
	{"troupe_actor_stops_total", []string{observe.AttrSystem, observe.AttrActorKind, observe.AttrStopReason}},
	{"troupe_actor_running", []string{observe.AttrSystem, observe.AttrActorKind}},
	{"troupe_actor_failures_total", []string{observe.AttrSystem, observe.AttrActorKind, observe.AttrErrorType}},
	{"troupe_actor_restarts_total", []string{observe.AttrSystem, observe.AttrActorKind}},
	{"troupe_supervisor_escalations_total", []string{observe.AttrSystem, observe.AttrSupervisor}},
	{"troupe_supervisor_restart_usage", []string{observe.AttrSystem, observe.AttrSupervisor}},
	{"troupe_supervisor_restart_limit", []string{observe.AttrSystem, observe.AttrSupervisor}},
	{"troupe_mailbox_depth", []string{observe.AttrSystem, observe.AttrActorKind}},
	{"troupe_mailbox_depth_max", []string{observe.AttrSystem, observe.AttrActorKind}},
	{"troupe_mailbox_limit", []string{observe.AttrSystem, observe.AttrActorKind}},
	{"troupe_mailbox_dropped_total", []string{observe.AttrSystem, observe.AttrActorKind, observe.AttrMailboxPolicy}},
	{"troupe_message_processed_total", []string{observe.AttrSystem, observe.AttrActorKind}},
	{"troupe_message_dead_lettered_total", []string{observe.AttrSystem, observe.AttrDeadLetterReason}},
	{"troupe_stage_received_total", []string{observe.AttrSystem, observe.AttrPipeline, observe.AttrStage}},
	{"troupe_stage_emitted_total", []string{observe.AttrSystem, observe.AttrPipeline, observe.AttrStage}},
	{"troupe_stage_failures_total", []string{observe.AttrSystem, observe.AttrPipeline, observe.AttrStage}},
	{"troupe_stage_in_flight", []string{observe.AttrSystem, observe.AttrPipeline, observe.AttrStage}},
	{"troupe_stage_blocked_time_seconds_total", []string{observe.AttrSystem, observe.AttrPipeline, observe.AttrStage}},
	{"troupe_telemetry_kind_overflow_total", []string{observe.AttrSystem}},
	{"troupe_message_process_duration_seconds", []string{observe.AttrSystem, observe.AttrActorKind, observe.AttrErrorType}},
	{"troupe_message_wait_duration_seconds", []string{observe.AttrSystem, observe.AttrActorKind}},
}

// Indexes into exported and Collector.descs.
const (
	mSpawns = iota
	mStops
	mRunning
	mFailures
	mRestarts
	mEscalations
	mRestartUsage
	mRestartLimit
	mMailboxDepth
	mMailboxMax
	mMailboxLimit
	mDropped
	mProcessed
	mDeadLettered
	mStageReceived
	mStageEmitted
	mStageFailures
	mStageInFlight
	mStageBlocked
	mKindOverflow
	mProcessDuration
	mWaitDuration
	numMetrics
)

// A Collector is a prometheus.Collector of one Source's metrics; see the
// package doc for what it exports. It is safe for concurrent use and may
// be registered on several registries. Create it with NewCollector.
type Collector struct {
	src   observe.Source
	cfg   config
	err   error // a construction error, reported by Describe and Collect
	descs [numMetrics]*prometheus.Desc
	types [numMetrics]prometheus.ValueType

	kinds *observe.KindCap // set by NewCollector from the options

	mu   sync.Mutex // guards call
	call *snapCall  // the Snapshot in flight, nil if none
}

// snapCall is one Snapshot of the Source, shared by the scrapes that
// wait for it.
type snapCall struct {
	done chan struct{} // closed once snap and err are set
	snap observe.Snapshot
	err  error
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns a Collector of src's metrics. Nil options are
// skipped. A nil src or an invalid option makes the Collector invalid:
// registering it returns the error (ErrNilSource, ErrInvalidOption), and
// collecting it reports the error instead of any metric.
func NewCollector(src observe.Source, opts ...Option) *Collector {
	c := &Collector{
		src: src,
		cfg: config{timeout: defaultTimeout, maxKinds: observe.DefaultMaxKinds},
	}
	if src == nil {
		c.err = ErrNilSource
	}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(&c.cfg); err != nil && c.err == nil {
			c.err = err
		}
	}
	c.kinds = observe.NewKindCap(c.cfg.maxKinds)
	for i, e := range exported {
		d, t, err := descOf(e.name, e.attrs)
		if err != nil && c.err == nil {
			c.err = err
		}
		c.descs[i], c.types[i] = d, t
	}
	return c
}

// descOf returns the descriptor of the metric of observe.Metrics named
// promName, with the label names of attrs.
func descOf(promName string, attrs []string) (*prometheus.Desc, prometheus.ValueType, error) {
	i := slices.IndexFunc(observe.Metrics, func(m observe.Metric) bool { return m.PromName == promName })
	if i < 0 {
		err := fmt.Errorf("prom: %s is not in observe.Metrics", promName)
		return prometheus.NewInvalidDesc(err), 0, err
	}
	m := observe.Metrics[i]
	if !slices.Equal(m.Attributes, attrs) {
		err := fmt.Errorf("prom: %s has attributes %v in observe.Metrics, the collector gives %v", promName, m.Attributes, attrs)
		return prometheus.NewInvalidDesc(err), 0, err
	}
	labels := make([]string, len(attrs))
	for j, a := range attrs {
		labels[j] = strings.ReplaceAll(a, ".", "_")
	}
	t := prometheus.GaugeValue
	switch m.Instrument {
	case observe.Counter:
		t = prometheus.CounterValue
	case observe.Histogram:
		t = prometheus.UntypedValue // unused: histograms are made by emitHist
	}
	d := prometheus.NewDesc(promName, m.Description, labels, nil)
	return d, t, d.Err()
}

// Describe implements prometheus.Collector: it sends the descriptor of
// every metric the collector can export, or one invalid descriptor
// carrying the construction error.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	if c.err != nil {
		ch <- prometheus.NewInvalidDesc(c.err)
		return
	}
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector: it takes one Snapshot of the
// Source and sends its metrics. If the Snapshot times out or panics, or
// the Collector is invalid, it sends one invalid metric carrying the
// error instead, which Gather returns.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	if c.err != nil {
		ch <- prometheus.NewInvalidMetric(prometheus.NewInvalidDesc(c.err), c.err)
		return
	}
	snap, err := c.snapshot()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(prometheus.NewInvalidDesc(err), err)
		return
	}
	sys := c.cfg.system
	if sys == "" {
		sys = labelValue(snap.System)
	}
	emit := func(m int, v float64, labels ...string) {
		metric, err := prometheus.NewConstMetric(c.descs[m], c.types[m], v, append([]string{sys}, labels...)...)
		if err != nil {
			metric = prometheus.NewInvalidMetric(c.descs[m], err)
		}
		ch <- metric
	}
	emitHist := func(m int, b *observe.Buckets, labels ...string) {
		if b == nil || len(b.Bounds) != len(b.Counts) {
			return
		}
		buckets := make(map[float64]uint64, len(b.Bounds))
		for i, le := range b.Bounds {
			buckets[le] = b.Counts[i]
		}
		metric, err := prometheus.NewConstHistogram(c.descs[m], b.Count, b.Sum, buckets, append([]string{sys}, labels...)...)
		if err != nil {
			metric = prometheus.NewInvalidMetric(c.descs[m], err)
		}
		ch <- metric
	}

	t := c.kinds.Totals(snap, labelValue)
	for i := range t.Kinds {
		k := &t.Kinds[i]
		name := k.Kind
		emit(mSpawns, float64(k.Spawns), name)
		for _, r := range sortedKeys(k.Stops) {
			emit(mStops, float64(k.Stops[r]), name, r)
		}
		emit(mRunning, float64(k.Running), name)
		for _, e := range sortedKeys(k.Failures) {
			emit(mFailures, float64(k.Failures[e]), name, e)
		}
		emit(mRestarts, float64(k.Restarts), name)
		emit(mMailboxDepth, float64(k.MailboxDepth), name)
		emit(mMailboxMax, float64(k.MailboxMax), name)
		emit(mMailboxLimit, float64(k.MailboxLimit), name)
		for _, p := range sortedKeys(k.Dropped) {
			emit(mDropped, float64(k.Dropped[p]), name, p)
		}
		emit(mProcessed, float64(k.Processed), name)
		emitHist(mWaitDuration, k.WaitDuration, name)
		emitHist(mProcessDuration, k.ProcessDuration, name, "")
		for _, e := range sortedKeys(k.ProcessFailed) {
			emitHist(mProcessDuration, k.ProcessFailed[e], name, e)
		}
	}
	emit(mKindOverflow, float64(t.KindOverflow))

	for _, s := range t.Supervisors {
		emit(mEscalations, float64(s.GaveUp), s.Name)
		emit(mRestartUsage, float64(s.RestartsInWindow), s.Name)
		emit(mRestartLimit, float64(s.MaxRestarts), s.Name)
	}

	dead := map[string]uint64{}
	for r, n := range snap.DeadLetters {
		dead[labelValue(r)] += n
	}
	for _, r := range sortedKeys(dead) {
		emit(mDeadLettered, float64(dead[r]), r)
	}

	for _, s := range t.Stages {
		emit(mStageReceived, float64(s.Received), s.Pipeline, s.Stage)
		emit(mStageEmitted, float64(s.Emitted), s.Pipeline, s.Stage)
		emit(mStageFailures, float64(s.Failures), s.Pipeline, s.Stage)
		emit(mStageInFlight, float64(s.InFlight), s.Pipeline, s.Stage)
		emit(mStageBlocked, s.BlockedSeconds, s.Pipeline, s.Stage)
	}
}

// labelValue returns s repaired to valid UTF-8, which Prometheus requires
// of a label value.
func labelValue(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// snapshot returns a Snapshot of the Source, waiting at most the
// snapshot timeout. It joins the Snapshot in flight, if any, so a Source
// that does not return holds one goroutine, not one per scrape.
func (c *Collector) snapshot() (observe.Snapshot, error) {
	c.mu.Lock()
	call := c.call
	if call == nil {
		call = &snapCall{done: make(chan struct{})}
		c.call = call
		// Owner: the Collector. It ends when the Source's Snapshot returns,
		// which a Source does once the context take gives it ends; while one
		// that does not return holds it, later scrapes wait for this same
		// call instead of starting another.
		go c.take(call)
	}
	c.mu.Unlock()
	t := time.NewTimer(c.cfg.timeout)
	defer t.Stop()
	select {
	case <-call.done:
		return call.snap, call.err
	case <-t.C:
		return observe.Snapshot{}, fmt.Errorf("%w: no Snapshot after %v", ErrSnapshotTimeout, c.cfg.timeout)
	}
}

// take runs one Snapshot of the Source for call.
func (c *Collector) take(call *snapCall) {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.timeout*3/4)
	defer func() {
		cancel()
		if r := recover(); r != nil {
			call.snap, call.err = observe.Snapshot{}, fmt.Errorf("%w: %v", ErrSourcePanic, r)
		}
		c.mu.Lock()
		c.call = nil
		c.mu.Unlock()
		close(call.done)
	}()
	call.snap = c.src.Snapshot(ctx, observe.SnapshotOptions{})
}
