package pool

import (
	"fmt"
	"runtime"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/route"
	"github.com/troupe-go/troupe/supervisor"
)

// Defaults of the pool options.
const (
	// DefaultMailbox is the capacity of each worker's mailbox.
	DefaultMailbox = 1024
	// DefaultIntensity restarts within DefaultPeriod make the pool's
	// supervisor give up (the pipeline stages' default).
	DefaultIntensity = 20
	DefaultPeriod    = time.Second
)

// An Option configures a pool.
type Option interface{ apply(*config) error }

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

type config struct {
	workers    int
	workersSet bool
	max        int
	router     route.Router
	scale      *route.Scale
	mailbox    int
	spawn      []actor.SpawnOption
	sup        []supervisor.Option
}

// WithWorkers sets how many workers are active at start (at least 1).
// Default runtime.GOMAXPROCS(0).
func WithWorkers(n int) Option {
	return optionFunc(func(c *config) error {
		if n < 1 {
			return fmt.Errorf("%w: %d workers", ErrInvalid, n)
		}
		c.workers, c.workersSet = n, true
		return nil
	})
}

// WithMaxWorkers sets how many workers the pool has, active or not: the
// bound of Resize. Default: the Workers count. (An inactive worker holds
// no goroutine.)
func WithMaxWorkers(n int) Option {
	return optionFunc(func(c *config) error {
		if n < 1 {
			return fmt.Errorf("%w: %d max workers", ErrInvalid, n)
		}
		c.max = n
		return nil
	})
}

// WithRouter sets how the pool spreads messages over its active workers.
// Default route.LeastLoaded(): the worker with the fewest messages queued
// or being handled. A ByKey router must be built for the pool's message
// type, and cannot be combined with Resize, WithMaxWorkers or Autoscale (a
// key must keep its worker); a Weighted one needs one weight per worker
// (WithMaxWorkers of them).
func WithRouter(r route.Router) Option {
	return optionFunc(func(c *config) error {
		if r.IsZero() {
			return fmt.Errorf("%w: zero Router", ErrInvalid)
		}
		c.router = r
		return nil
	})
}

// WithAutoscale makes the number of active workers follow the pool's queue
// depth between s.Min and s.Max (see route.Scale; the capacity it
// measures the depth against is the Mailbox capacity). The pool has
// s.Max workers and starts with s.Min active. It replaces Workers and
// WithMaxWorkers.
func WithAutoscale(s route.Scale) Option {
	return optionFunc(func(c *config) error {
		s, err := s.Normalize()
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		c.scale = &s
		return nil
	})
}

// WithMailbox bounds each worker's mailbox to capacity messages (at least 1)
// with the Block policy: a Tell to a full worker waits. Default
// DefaultMailbox.
func WithMailbox(capacity int) Option {
	return optionFunc(func(c *config) error {
		if capacity < 1 {
			return fmt.Errorf("%w: mailbox capacity %d", ErrInvalid, capacity)
		}
		c.mailbox = capacity
		return nil
	})
}

// WithWorkerOptions adds spawn options for every worker, such as
// actor.WithMaxAttempts or actor.WithDeadline. They apply after the
// pool's own (the Mailbox and the kind "pool:NAME"). Nil options are
// skipped.
func WithWorkerOptions(opts ...actor.SpawnOption) Option {
	return optionFunc(func(c *config) error {
		for _, o := range opts {
			if o != nil {
				c.spawn = append(c.spawn, o)
			}
		}
		return nil
	})
}

// WithSupervisor adds options of the workers' supervisor (strategy, restart
// intensity, backoff...). They apply after the pool's default intensity,
// DefaultIntensity restarts in DefaultPeriod. Nil options are skipped.
func WithSupervisor(opts ...supervisor.Option) Option {
	return optionFunc(func(c *config) error {
		for _, o := range opts {
			if o != nil {
				c.sup = append(c.sup, o)
			}
		}
		return nil
	})
}

func buildConfig(opts []Option) (config, error) {
	c := config{router: route.LeastLoaded(), mailbox: DefaultMailbox}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(&c); err != nil {
			return c, err
		}
	}
	if c.scale != nil {
		if c.workersSet || c.max != 0 {
			return c, fmt.Errorf("%w: Autoscale with Workers or WithMaxWorkers", ErrInvalid)
		}
		c.workers, c.max = c.scale.Min, c.scale.Max
	}
	if !c.workersSet && c.scale == nil {
		c.workers = runtime.GOMAXPROCS(0)
		if c.max != 0 {
			c.workers = min(c.workers, c.max)
		}
	}
	if c.max == 0 {
		c.max = c.workers
	}
	if c.workers > c.max {
		return c, fmt.Errorf("%w: %d workers above WithMaxWorkers %d", ErrInvalid, c.workers, c.max)
	}
	if err := c.router.Validate(c.max); err != nil {
		return c, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if c.router.Rule() == route.RuleByKey && (c.scale != nil || c.workers != c.max) {
		return c, fmt.Errorf("%w: a ByKey pool has a fixed size: no Autoscale or WithMaxWorkers", ErrInvalid)
	}
	return c, nil
}
