package supervisor

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/strategy"
)

// Stats are a supervisor's counters, from Supervisor.Stats. Restarts and
// GaveUp count over the supervisor's whole life, across its own restarts
// by its parent; the intensity fields describe its current incarnation
// (a restarted supervisor starts with an empty restart history, as in
// OTP).
type Stats struct {
	// Restarts counts the restarts the supervisor decided on after a
	// child's exit; each is one entry against its restart intensity, as
	// in OTP. A one-for-all or rest-for-one restart counts once however
	// many children it restarts; a restart whose start fails counts, and
	// so does each retry of it; a restart delayed by backoff counts when
	// it is decided, before the delay. RestartChild does not count, nor
	// does the refused restart that makes the supervisor give up. Each
	// child's own restarts are in ChildInfo.Restarts.
	Restarts uint64
	// GaveUp counts the times the supervisor gave up because a restart
	// exceeded its intensity (ErrGaveUp, EventGaveUp). A nested supervisor
	// escalates each to its parent (EventEscalated), which may restart it;
	// a top-level one stops. Auto shutdown is not counted.
	GaveUp uint64
	// IntensityUsed is how many restarts of the current incarnation fall
	// inside the last Period, read at the call with the supervisor's
	// clock (WithClock): it falls as the window slides. A restart is
	// refused when it would take IntensityUsed past IntensityLimit, so
	// IntensityUsed > IntensityLimit only once the supervisor gave up
	// (the refused restart is then counted in it).
	IntensityUsed int
	// IntensityLimit and Period are the supervisor's intensity
	// (WithIntensity).
	IntensityLimit int
	Period         time.Duration
}

// meters are a supervisor's counters. Its actor's goroutine writes them;
// its handles read them from any goroutine without waiting for it: the
// counters are atomics, and mu is held only to record a restart in the
// intensity or to read its usage, never while the supervisor runs a
// child's code.
type meters struct {
	restarts, gaveUp atomic.Uint64
	limit            int
	period           time.Duration
	now              func() time.Time

	mu sync.Mutex
	in *strategy.Intensity // the current incarnation's; guarded by mu
	// nested holds the meters of the nested supervisors among the
	// children, by actor, for LookupSupervisor; guarded by mu.
	nested map[actor.PID]*meters
}

func newMeters(cfg *config) *meters {
	return &meters{limit: cfg.intensity, period: cfg.period, now: cfg.now}
}

// newIntensity makes and publishes the restart history of a new
// incarnation. The supervisor's goroutine calls it.
func (m *meters) newIntensity() *strategy.Intensity {
	in := strategy.NewIntensity(m.limit, m.period)
	m.mu.Lock()
	m.in = in
	m.mu.Unlock()
	return in
}

// allow records a restart decision at now in in (the current incarnation's
// intensity) and counts it. The supervisor's goroutine calls it.
func (m *meters) allow(in *strategy.Intensity, now time.Time) bool {
	m.mu.Lock()
	ok := in.Allow(now)
	m.mu.Unlock()
	if ok {
		m.restarts.Add(1)
	} else {
		m.gaveUp.Add(1)
	}
	return ok
}

// addNested records the meters of a nested supervisor child, forgetting
// those of children that stopped for good.
func (m *meters) addNested(pid actor.PID, sub *meters) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for p := range m.nested {
		select {
		case <-p.Done():
			delete(m.nested, p)
		default:
		}
	}
	if m.nested == nil {
		m.nested = map[actor.PID]*meters{}
	}
	if _, ok := m.nested[pid]; ok {
		// A kept child taken over by a new incarnation: its actor, and
		// so its meters, are the ones registered first.
		return
	}
	m.nested[pid] = sub
}

// child returns the meters of the nested supervisor pid, or nil.
func (m *meters) child(pid actor.PID) *meters {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.nested[pid]
}

func (m *meters) stats() Stats {
	now := m.now() // outside mu: the clock is the user's code
	m.mu.Lock()
	used := 0
	if m.in != nil {
		used = m.in.Used(now)
	}
	m.mu.Unlock()
	return Stats{
		Restarts:       m.restarts.Load(),
		GaveUp:         m.gaveUp.Load(),
		IntensityUsed:  used,
		IntensityLimit: m.limit,
		Period:         m.period,
	}
}

// Stats returns the supervisor's counters. Unlike the dynamic API it does
// not wait for the supervisor's goroutine: it returns at once even while
// the supervisor is busy (starting or stopping a child, say) or stopped,
// then with its final counts. The zero Stats is returned only for a handle
// from LookupSupervisor whose supervisor is not known to its parent yet.
func (s *Supervisor) Stats() Stats {
	if m := s.meters(); m != nil {
		return m.stats()
	}
	return Stats{}
}

// meters returns the supervisor's meters, finding those of a nested one
// through its parent the first time.
func (s *Supervisor) meters() *meters {
	if m := s.m.Load(); m != nil {
		return m
	}
	if s.parent == nil {
		return nil
	}
	up := s.parent.meters()
	if up == nil {
		return nil
	}
	m := up.child(s.ref.PID())
	if m != nil {
		s.m.Store(m)
	}
	return m
}
