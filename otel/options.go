package troupeotel

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/troupe-go/troupe/observe"
)

// ScopeName is the instrumentation scope of the meter and tracer: this
// module's path.
const ScopeName = "github.com/troupe-go/troupe/otel"

// Defaults of the options.
const (
	DefaultSnapshotTimeout = time.Second
	DefaultSettleTime      = time.Second
)

// Errors of Register.
var (
	// ErrNilSource: Register was given a nil observe.Source.
	ErrNilSource = errors.New("troupeotel: nil source")
	// ErrInvalidOption: an option was given a value out of its range.
	ErrInvalidOption = errors.New("troupeotel: invalid option")
)

// An Option configures Register. A nil Option is ignored.
type Option interface {
	apply(*config) error
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

type config struct {
	mp       metric.MeterProvider
	tp       trace.TracerProvider
	timeout  time.Duration
	maxKinds int
	settle   time.Duration
}

func defaultConfig() config {
	return config{timeout: DefaultSnapshotTimeout, maxKinds: observe.DefaultMaxKinds, settle: DefaultSettleTime}
}

// WithMeterProvider sets the MeterProvider the instruments come from.
// The default, and what a nil provider means, is otel.GetMeterProvider()
// as it is when Register runs.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) error { c.mp = mp; return nil })
}

// WithTracerProvider sets the TracerProvider the supervision spans come
// from. The default, and what a nil provider means, is
// otel.GetTracerProvider() as it is when Register runs.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) error { c.tp = tp; return nil })
}

// WithSnapshotTimeout bounds the Snapshot taken for each collection
// (default DefaultSnapshotTimeout); a supervisor that does not answer in
// time is observed from what the runtime knows of it. It must be > 0.
func WithSnapshotTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: snapshot timeout %v, want > 0", ErrInvalidOption, d)
		}
		c.timeout = d
		return nil
	})
}

// WithMaxKinds caps the distinct values of troupe.actor.kind (default
// observe.DefaultMaxKinds): kinds past the first n the System reports are
// observed as "other", and counted by troupe.telemetry.kind_overflow. It
// must be >= 1.
func WithMaxKinds(n int) Option {
	return optionFunc(func(c *config) error {
		if n < 1 {
			return fmt.Errorf("%w: max kinds %d, want >= 1", ErrInvalidOption, n)
		}
		c.maxKinds = n
		return nil
	})
}

// WithSettleTime sets how long a supervision span stays open after the
// last event of its failure (default DefaultSettleTime); a backoff keeps
// it open for its delay on top. The span's end time is that of its last
// event, so the settle time does not lengthen it. It must be > 0.
func WithSettleTime(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: settle time %v, want > 0", ErrInvalidOption, d)
		}
		c.settle = d
		return nil
	})
}
