package troupeotel

import (
	"context"
	"runtime/debug"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/troupe-go/troupe/observe"
)

// A Registration is a Source registered with OpenTelemetry. Close ends it.
type Registration struct {
	reg  metric.Registration
	sub  observe.Subscription
	stop chan struct{}
	done chan struct{}
	// unclock removes the clock sink (a no-op for a Source without one).
	unclock func()

	once sync.Once
	err  error
}

// Register exports src through OpenTelemetry until Close: the metrics of
// observe.Metrics that a Snapshot or the event stream gives (read at each
// collection of the MeterProvider's readers), and supervision spans built
// from the event stream (see the package doc). It takes one small
// Snapshot, bounded by the snapshot timeout, to learn the System's name,
// and starts one goroutine that reads the event stream. It fails with
// ErrNilSource, ErrInvalidOption, or the provider's error, and then
// leaves nothing behind.
func Register(src observe.Source, opts ...Option) (*Registration, error) {
	if src == nil {
		return nil, ErrNilSource
	}
	cfg := defaultConfig()
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.mp == nil {
		cfg.mp = otel.GetMeterProvider()
	}
	if cfg.tp == nil {
		cfg.tp = otel.GetTracerProvider()
	}
	v := version()
	meter := cfg.mp.Meter(ScopeName, metric.WithInstrumentationVersion(v))
	tracer := cfg.tp.Tracer(ScopeName, trace.WithInstrumentationVersion(v))

	m, reg, err := newMetrics(meter, src, &cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
	system := src.Snapshot(ctx, observe.SnapshotOptions{Limit: 1}).System
	cancel()

	r := &Registration{reg: reg, sub: src.Subscribe(eventBuffer), stop: make(chan struct{}), done: make(chan struct{}), unclock: func() {}}
	if cs, ok := src.(observe.TimingSource); ok {
		r.unclock = cs.AddTimingSink(newClockSink(m, system))
	}
	t := newTracing(tracer, m, system, cfg.settle)
	// Owner: the Registration; Close stops it and waits for it. It also
	// ends when the System closes the event stream (at its shutdown).
	go func() {
		defer close(r.done)
		t.run(r.sub.Events(), r.stop)
	}()
	return r, nil
}

// Close unregisters the metrics callback, ends the event goroutine and
// its subscription, and ends the open supervision spans (with the time of
// their last event). It returns the error of unregistering, if any; later
// calls return the same.
func (r *Registration) Close() error {
	r.once.Do(func() {
		r.err = r.reg.Unregister()
		r.unclock()
		close(r.stop)
		<-r.done
		r.sub.Close()
	})
	return r.err
}

// version is this module's version as the binary was built with it, or
// "" when the build does not say (a test, a replace).
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	if bi.Main.Path == ScopeName {
		return cleanVersion(bi.Main.Version)
	}
	for _, d := range bi.Deps {
		if d.Path == ScopeName {
			if d.Replace != nil {
				return cleanVersion(d.Replace.Version)
			}
			return cleanVersion(d.Version)
		}
	}
	return ""
}

func cleanVersion(v string) string {
	if v == "(devel)" {
		return ""
	}
	return v
}
