package chaos

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/goleak"

	"github.com/troupe-go/troupe/actor"
)

// A Checker checks the invariants of a run under chaos, for items
// identified by ids of type K:
//
//   - every item that entered is seen in the output or in dead letters
//     (else it is lost);
//   - items expected to fail (poison) end in dead letters and nowhere else;
//     other items are not dead-lettered, unless AllowDeadLetters;
//   - outputs of an item beyond its first are counted as duplicates
//     (at-least-once redelivery), not as errors, unless NoDuplicates;
//   - the event stream matches the monkey: each injected Kill or FailStart
//     shows as exactly one EventFailed carrying that fault, each failed
//     incarnation is followed by a restart, and no supervisor gave up
//     (escalated) beyond AllowEscalations;
//   - aggregates given to [CompareAggregates] equal their recomputation;
//   - no goroutine is left behind, when WithGoroutineBaseline or WithGoleak
//     is set.
//
// Feed it with Entered (or MaybeEntered), Delivered, DeadLettered and
// ExpectDead as items move, and with Event as the event sink of the actor
// system or pipeline; then call Check once the run stopped. Its methods
// are safe for concurrent use and cheap enough for a sink (a map update
// under a mutex). A Checker is for one run.
type Checker[K comparable] struct {
	cfg checkConfig

	mu      sync.Mutex // guards everything below
	items   map[K]mark
	aggs    []string
	failed  []failure
	events  map[actor.EventKind]int
	restart map[string]int // EventRestarted per path
	gaveUp  []string       // paths of supervisors that gave up
}

// mark is what the checker knows of one item, packed in one word so that
// a run of millions of items stays small: three flags and two saturating
// 14-bit counters (outputs and dead letters).
type mark uint32

const (
	markMaybe   mark = 1 << 29
	markEntered mark = 1 << 30
	markExpect  mark = 1 << 31
	countBits        = 14
	countMax         = 1<<countBits - 1
)

func (m mark) out() int  { return int(m & countMax) }
func (m mark) dead() int { return int(m >> countBits & countMax) }

func (m *mark) addOut() {
	if m.out() < countMax {
		*m++
	}
}

func (m *mark) addDead() {
	if m.dead() < countMax {
		*m += 1 << countBits
	}
}

// failure is what the checker keeps of an EventFailed (not its stack).
type failure struct {
	path  string
	fault uint64 // the ID of the injected Kill or FailStart that caused it, or 0
	start bool   // a failed start, rather than a failed running incarnation
}

// A CheckOption configures a Checker.
type CheckOption interface{ apply(*checkConfig) }

type checkConfig struct {
	allowDead     bool
	noDups        bool
	allowUnrest   bool
	escalations   int
	baseline      int // -1: no goroutine count check
	goleak        bool
	goleakOptions []goleak.Option
}

type checkOptionFunc func(*checkConfig)

func (f checkOptionFunc) apply(c *checkConfig) { f(c) }

// AllowDeadLetters lets any item end in dead letters (for runs that are
// cancelled, or whose faults may exhaust attempts). By default only items
// given to ExpectDead may.
func AllowDeadLetters() CheckOption {
	return checkOptionFunc(func(c *checkConfig) { c.allowDead = true })
}

// NoDuplicates makes a duplicate output a failure (for exactly-once
// sinks). By default duplicates are only counted.
func NoDuplicates() CheckOption {
	return checkOptionFunc(func(c *checkConfig) { c.noDups = true })
}

// AllowUnrestarted accepts failed incarnations that were not restarted
// (a run cancelled while restarts were pending, or actors that gave up).
// By default each EventFailed of a running incarnation at a path must be
// matched by an EventRestarted at that path, unless a supervisor above it
// gave up.
func AllowUnrestarted() CheckOption {
	return checkOptionFunc(func(c *checkConfig) { c.allowUnrest = true })
}

// AllowEscalations accepts up to n supervisors giving up (EventGaveUp).
// Default 0.
func AllowEscalations(n int) CheckOption {
	return checkOptionFunc(func(c *checkConfig) { c.escalations = n })
}

// WithGoroutineBaseline makes Check wait, until its context ends, for the
// number of goroutines (runtime.NumGoroutine) to come back to n, and
// report the excess as leaked. Take n before the run starts; it suits
// programs, where goleak's view of "expected" goroutines does not apply.
func WithGoroutineBaseline(n int) CheckOption {
	return checkOptionFunc(func(c *checkConfig) { c.baseline = n })
}

// WithGoleak makes Check look for leaked goroutines with goleak.Find and
// these options (goleak retries for a while before it reports); nil
// options are skipped. Use it in tests that do not run in parallel with
// others.
func WithGoleak(opts ...goleak.Option) CheckOption {
	var kept []goleak.Option
	for _, o := range opts {
		if o != nil {
			kept = append(kept, o)
		}
	}
	return checkOptionFunc(func(c *checkConfig) { c.goleak, c.goleakOptions = true, kept })
}

// NewChecker returns an empty Checker.
func NewChecker[K comparable](opts ...CheckOption) *Checker[K] {
	c := &Checker[K]{
		cfg:     checkConfig{baseline: -1},
		items:   map[K]mark{},
		events:  map[actor.EventKind]int{},
		restart: map[string]int{},
	}
	for _, o := range opts {
		if o != nil {
			o.apply(&c.cfg)
		}
	}
	return c
}

// Entered records that item id entered the run (was read by a source).
func (c *Checker[K]) Entered(id K) {
	c.mu.Lock()
	c.items[id] |= markEntered
	c.mu.Unlock()
}

// MaybeEntered records that item id may or may not have entered: a
// source was stopped while handing it over, and cannot tell whether the
// pipeline took it. It counts as entered if it shows up in the output or
// in dead letters, and is not lost otherwise.
func (c *Checker[K]) MaybeEntered(id K) {
	c.mu.Lock()
	c.items[id] |= markMaybe
	c.mu.Unlock()
}

// ExpectDead records that item id must end in dead letters and nowhere
// else (a poison item).
func (c *Checker[K]) ExpectDead(id K) {
	c.mu.Lock()
	c.items[id] |= markExpect
	c.mu.Unlock()
}

// Delivered records that item id reached the output (a sink).
func (c *Checker[K]) Delivered(id K) {
	c.mu.Lock()
	m := c.items[id]
	m.addOut()
	c.items[id] = m
	c.mu.Unlock()
}

// DeadLettered records that item id went to dead letters.
func (c *Checker[K]) DeadLettered(id K) {
	c.mu.Lock()
	m := c.items[id]
	m.addDead()
	c.items[id] = m
	c.mu.Unlock()
}

// Event records a lifecycle event; pass c.Event as (or call it from) the
// event sink of the actor system or pipeline under test.
func (c *Checker[K]) Event(e actor.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events[e.Kind]++
	switch e.Kind {
	case actor.EventFailed:
		f := failure{path: e.Path}
		var fault *Fault
		if errors.As(e.Err, &fault) && fault.Kind.fails() {
			f.fault = fault.ID
		}
		var se *actor.StartError
		f.start = errors.As(e.Err, &se)
		c.failed = append(c.failed, f)
	case actor.EventRestarted:
		c.restart[e.Path]++
	case actor.EventGaveUp:
		c.gaveUp = append(c.gaveUp, e.Path)
	}
}

// CompareAggregates compares aggregates computed by the run (got) with a
// straight recomputation (want) and records every difference in c under
// name: a key missing from either side or holding another value.
func CompareAggregates[K, A comparable, V comparable](c *Checker[K], name string, got, want map[A]V) {
	var diffs []string
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s[%v]: missing, want %v", name, k, w))
		case g != w:
			diffs = append(diffs, fmt.Sprintf("%s[%v] = %v, want %v", name, k, g, w))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s[%v] = %v, want none", name, k, g))
		}
	}
	slices.Sort(diffs)
	c.mu.Lock()
	c.aggs = append(c.aggs, diffs...)
	c.mu.Unlock()
}

// A Report is the outcome of [Checker.Check]. Lists of ids are sorted
// (numbers and strings by value, other ids by their fmt form).
type Report[K comparable] struct {
	// Entered, Delivered and DeadLettered count distinct items.
	Entered, Delivered, DeadLettered int
	// ExpectedDead counts items given to ExpectDead.
	ExpectedDead int
	// Duplicates counts outputs beyond the first of an item, and dead
	// letters beyond the first.
	Duplicates, DuplicateDead int
	// Lost: entered, neither delivered nor dead-lettered.
	Lost []K
	// Unknown: delivered or dead-lettered without having entered.
	Unknown []K
	// MissingDead: expected dead, not dead-lettered. DeliveredPoison:
	// expected dead, delivered.
	MissingDead, DeliveredPoison []K
	// UnexpectedDead: dead-lettered without ExpectDead (a failure unless
	// AllowDeadLetters). DeliveredAndDead: both delivered and dead-lettered.
	UnexpectedDead, DeliveredAndDead []K
	// Aggregates lists the differences found by CompareAggregates.
	Aggregates []string

	// Faults counts the injected faults by kind.
	Faults map[Kind]int
	// Failures counts EventFailed events; FaultFailures those caused by an
	// injected Kill or FailStart.
	Failures, FaultFailures int
	// Restarts counts EventRestarted, GaveUp EventGaveUp, Escalations
	// EventEscalated events.
	Restarts, GaveUp, Escalations int
	// FaultProblems lists where events and faults disagree: a fault that
	// caused no failure event, a failure event seen twice for one fault,
	// a failed incarnation not restarted, too many give-ups.
	FaultProblems []string

	// LeakedGoroutines counts goroutines left behind (see
	// WithGoroutineBaseline and WithGoleak); Leaks describes them.
	LeakedGoroutines int
	Leaks            string

	flags uint8 // the checker's options that Problems needs
}

const (
	flagAllowDead uint8 = 1 << iota
	flagNoDups
)

// Check computes the report. m is the monkey of the run (nil if none).
// ctx bounds the wait for goroutines to exit (WithGoroutineBaseline; a
// nil ctx waits as long as it takes). Call it after the run stopped and
// its event sink went quiet.
func (c *Checker[K]) Check(ctx context.Context, m *Monkey) Report[K] {
	ctx = orBackground(ctx)
	var r Report[K]
	if c.cfg.allowDead {
		r.flags |= flagAllowDead
	}
	if c.cfg.noDups {
		r.flags |= flagNoDups
	}
	c.mu.Lock()
	for id, mk := range c.items {
		entered, expect := mk&markEntered != 0, mk&markExpect != 0
		out, dead := mk.out(), mk.dead()
		if mk&markMaybe != 0 && !entered {
			if out == 0 && dead == 0 {
				continue // it did not enter
			}
			entered = true
		}
		if entered {
			r.Entered++
		}
		if out > 0 {
			r.Delivered++
			r.Duplicates += out - 1
		}
		if dead > 0 {
			r.DeadLettered++
			r.DuplicateDead += dead - 1
		}
		if expect {
			r.ExpectedDead++
		}
		switch {
		case !entered && (out > 0 || dead > 0):
			r.Unknown = append(r.Unknown, id)
		case entered && out == 0 && dead == 0:
			r.Lost = append(r.Lost, id)
		}
		switch {
		case expect && dead == 0:
			r.MissingDead = append(r.MissingDead, id)
		case !expect && dead > 0:
			r.UnexpectedDead = append(r.UnexpectedDead, id)
		}
		if expect && out > 0 {
			r.DeliveredPoison = append(r.DeliveredPoison, id)
		}
		if out > 0 && dead > 0 {
			r.DeliveredAndDead = append(r.DeliveredAndDead, id)
		}
	}
	r.Aggregates = slices.Clone(c.aggs)
	failed := slices.Clone(c.failed)
	restart := make(map[string]int, len(c.restart))
	for p, n := range c.restart {
		restart[p] = n
		r.Restarts += n
	}
	gaveUp := slices.Clone(c.gaveUp)
	r.GaveUp = len(gaveUp)
	r.Escalations = c.events[actor.EventEscalated]
	c.mu.Unlock()

	for _, ids := range [][]K{r.Lost, r.Unknown, r.MissingDead, r.DeliveredPoison, r.UnexpectedDead, r.DeliveredAndDead} {
		slices.SortFunc(ids, compareIDs[K])
	}
	r.Failures = len(failed)
	r.FaultProblems = c.matchFaults(&r, m, failed, restart, gaveUp)
	c.checkLeaks(ctx, &r)
	return r
}

// matchFaults compares the failure events with the monkey's record.
func (c *Checker[K]) matchFaults(r *Report[K], m *Monkey, failed []failure, restart map[string]int, gaveUp []string) []string {
	var probs []string
	faults := m.Faults()
	r.Faults = map[Kind]int{}
	byID := map[uint64]*Fault{}
	for i := range faults {
		f := &faults[i]
		r.Faults[f.Kind]++
		if f.Kind.fails() {
			byID[f.ID] = f
		}
	}
	seen := map[uint64]int{}
	runFails := map[string]int{}
	for _, e := range failed {
		if e.fault != 0 {
			r.FaultFailures++
			seen[e.fault]++
			if _, ok := byID[e.fault]; !ok {
				probs = append(probs, fmt.Sprintf("failure at %s carries fault #%d, which the monkey did not record", e.path, e.fault))
			}
		}
		if !e.start {
			runFails[e.path]++
		}
	}
	for _, f := range faults {
		if !f.Kind.fails() {
			continue
		}
		switch n := seen[f.ID]; {
		case n == 0:
			probs = append(probs, fmt.Sprintf("%v: no failure event", &f))
		case n > 1:
			probs = append(probs, fmt.Sprintf("%v: %d failure events", &f, n))
		}
	}
	if !c.cfg.allowUnrest {
		paths := make([]string, 0, len(runFails))
		for p := range runFails {
			paths = append(paths, p)
		}
		slices.Sort(paths)
		for _, p := range paths {
			if restart[p] >= runFails[p] || under(p, gaveUp) {
				continue
			}
			probs = append(probs, fmt.Sprintf("%s: %d failed incarnations, %d restarts", p, runFails[p], restart[p]))
		}
	}
	if r.GaveUp > c.cfg.escalations {
		probs = append(probs, fmt.Sprintf("%d supervisors gave up (%s), %d allowed", r.GaveUp, strings.Join(gaveUp, ", "), c.cfg.escalations))
	}
	return probs
}

// under reports whether p is one of sups or below one of them.
func under(p string, sups []string) bool {
	for _, s := range sups {
		if p == s || strings.HasPrefix(p, s+"/") {
			return true
		}
	}
	return false
}

func (c *Checker[K]) checkLeaks(ctx context.Context, r *Report[K]) {
	if c.cfg.baseline >= 0 {
		r.LeakedGoroutines = WaitGoroutines(ctx, c.cfg.baseline)
		if r.LeakedGoroutines > 0 {
			buf := make([]byte, 1<<20)
			r.Leaks = string(buf[:runtime.Stack(buf, true)])
		}
	}
	if c.cfg.goleak {
		if err := goleak.Find(c.cfg.goleakOptions...); err != nil {
			r.Leaks = err.Error()
			r.LeakedGoroutines = max(r.LeakedGoroutines, strings.Count(r.Leaks, "[Goroutine "))
		}
	}
}

// WaitGoroutines waits until at most baseline goroutines run, or until
// ctx ends, and returns the excess (0 if the count came back). It polls
// runtime.NumGoroutine; goroutines that end late (timers, abandoned
// incarnations finishing) get until ctx ends; with a nil ctx, as long as
// it takes.
func WaitGoroutines(ctx context.Context, baseline int) int {
	ctx = orBackground(ctx)
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		n := runtime.NumGoroutine() - baseline
		if n <= 0 {
			return 0
		}
		select {
		case <-ctx.Done():
			return n
		case <-t.C:
		}
	}
}

// Problems lists every broken invariant, one line each; empty means the
// run passed.
func (r *Report[K]) Problems() []string {
	var p []string
	list := func(what string, ids []K) {
		if len(ids) > 0 {
			p = append(p, fmt.Sprintf("%d %s: %s", len(ids), what, sample(ids)))
		}
	}
	list("lost", r.Lost)
	list("unknown (never entered)", r.Unknown)
	list("poison not dead-lettered", r.MissingDead)
	list("poison delivered", r.DeliveredPoison)
	list("delivered and dead-lettered", r.DeliveredAndDead)
	if !r.allowDead() {
		list("dead-lettered unexpectedly", r.UnexpectedDead)
	}
	if r.noDups() && r.Duplicates > 0 {
		p = append(p, fmt.Sprintf("%d duplicate outputs", r.Duplicates))
	}
	if n := len(r.Aggregates); n > 0 {
		const show = 5
		d := strings.Join(r.Aggregates[:min(n, show)], "; ")
		if n > show {
			d += fmt.Sprintf("; ... (%d more)", n-show)
		}
		p = append(p, fmt.Sprintf("%d aggregates differ: %s", n, d))
	}
	p = append(p, r.FaultProblems...)
	if r.LeakedGoroutines > 0 {
		p = append(p, fmt.Sprintf("%d goroutines leaked", r.LeakedGoroutines))
	}
	return p
}

func (r *Report[K]) allowDead() bool { return r.flags&flagAllowDead != 0 }
func (r *Report[K]) noDups() bool    { return r.flags&flagNoDups != 0 }

// OK reports whether the run passed (Problems is empty).
func (r *Report[K]) OK() bool { return len(r.Problems()) == 0 }

// Err returns nil if the run passed, else an error listing the problems.
func (r *Report[K]) Err() error {
	p := r.Problems()
	if len(p) == 0 {
		return nil
	}
	return errors.New("chaos: " + strings.Join(p, "; "))
}

// String summarises the report on one line.
func (r *Report[K]) String() string {
	return fmt.Sprintf("entered %d, delivered %d, dead-lettered %d (expected %d), lost %d, duplicates %d, faults %d, failures %d (%d injected), restarts %d, gave up %d, leaked goroutines %d",
		r.Entered, r.Delivered, r.DeadLettered, r.ExpectedDead, len(r.Lost), r.Duplicates, r.faultTotal(),
		r.Failures, r.FaultFailures, r.Restarts, r.GaveUp, r.LeakedGoroutines)
}

func (r *Report[K]) faultTotal() int {
	n := 0
	for _, v := range r.Faults {
		n += v
	}
	return n
}

// compareIDs orders ids of the usual types by value, others by their
// printed form, so reports are stable.
func compareIDs[K comparable](a, b K) int {
	switch x := any(a).(type) {
	case int:
		return cmp.Compare(x, any(b).(int))
	case int64:
		return cmp.Compare(x, any(b).(int64))
	case uint64:
		return cmp.Compare(x, any(b).(uint64))
	case uint32:
		return cmp.Compare(x, any(b).(uint32))
	case string:
		return cmp.Compare(x, any(b).(string))
	}
	return cmp.Compare(fmt.Sprint(a), fmt.Sprint(b))
}

// sample formats the first few ids of a list.
func sample[K any](ids []K) string {
	const show = 10
	var b strings.Builder
	for i, id := range ids {
		if i == show {
			fmt.Fprintf(&b, " ... (%d more)", len(ids)-show)
			break
		}
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprint(&b, id)
	}
	return b.String()
}
