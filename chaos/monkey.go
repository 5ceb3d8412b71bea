package chaos

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/troupe-go/troupe/actor"
)

// ErrInjected matches every error and panic value made by a [Monkey]
// (a *[Fault]): errors.Is(err, ErrInjected) tells an injected failure
// from a real one, through *actor.Failure and *actor.PanicError.
var ErrInjected = errors.New("chaos: injected fault")

// ErrInvalidRule is wrapped by the error [New] returns for a rule it
// cannot use.
var ErrInvalidRule = errors.New("chaos: invalid rule")

// Kind is the kind of a fault.
type Kind uint8

// Fault kinds. Kill and FailStart end an incarnation (the checker expects
// one EventFailed for each); the others do not.
const (
	// Kill makes the hit panic with its *Fault: at the receive hook it is a
	// failure of the message being received, exactly as if Receive had
	// panicked; at a point it panics in the caller's code.
	Kill Kind = iota + 1
	// FailStart makes the start of an incarnation fail (the start hook
	// returns the *Fault). At a point it makes Inject return the *Fault.
	FailStart
	// Slow delays the hit by Rule.Delay, or until its context is done.
	Slow
	// Stall blocks the hit until its context is done, then, if Rule.Delay
	// is set, for Delay more while ignoring the context (so a stop waits
	// past a short shutdown time and the runtime abandons the
	// incarnation), then returns the *Fault as an error wrapping the
	// context's error: at the receive hook, a stalled message stays in
	// flight, as when a Receive gives up on a stop.
	Stall
	// Cancel cancels every context made by [Monkey.WithCancel] (with the
	// *Fault as cause); the hit itself goes on.
	Cancel
)

var kindNames = [...]string{Kill: "kill", FailStart: "fail-start", Slow: "slow", Stall: "stall", Cancel: "cancel"}

// String returns "kill", "fail-start", "slow", "stall" or "cancel".
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// fails reports whether a fault of kind k ends its incarnation.
func (k Kind) fails() bool { return k == Kill || k == FailStart }

// A Rule says which hits get which fault. A hit is one consultation of the
// monkey: a receive or a start of an actor (when the monkey is installed
// with [actor.WithFaultInjector]), or a call of [Monkey.Inject] or
// [Monkey.InjectItem] in user code.
//
// Exactly one of Rate, PerSecond and Count-alone chooses the hits:
//
//   - Rate p: each matching hit gets the fault with probability p, drawn
//     from the seed (see [Monkey] for what is deterministic);
//   - PerSecond r: faults are due at seeded random times, r per second on
//     average; the first matching hit after a due time gets the fault (a
//     due time with no hit before the next one is not made up);
//   - Count n without a rate: the first n matching hits get the fault.
//
// Count also caps a Rate or PerSecond rule at n faults. Rules are data;
// [New] validates them.
type Rule struct {
	// Kind is the fault to inject. Required.
	Kind Kind
	// Pattern is a [path.Match] pattern matched against the actor's path
	// ("/pipeline/decode/w3") at the actor hooks, and against the site
	// name at points. "" matches everything; "*" matches one path element,
	// so "/app/*" matches "/app/db" but not "/app/db/conn".
	Pattern string
	// Rate is the probability, per matching hit, of a fault (0 to 1).
	Rate float64
	// PerSecond is the average number of faults per second.
	PerSecond float64
	// Count caps the number of faults of this rule (0: no cap); alone, it
	// faults the first Count matching hits.
	Count int
	// Delay is how long a Slow fault delays its hit (required for Slow),
	// and how long a Stall keeps blocking after its context is done
	// (optional).
	Delay time.Duration
	// MaxPerItem bounds the faults this rule gives one item (at
	// InjectItem: per item id and site) or one message (at the receive
	// hook: a message is spared once its delivery attempt exceeds
	// MaxPerItem). Default 1. Keep the actor's WithMaxAttempts, or the
	// pipeline stage's Retry attempts, above it, or a healthy message can
	// be dead-lettered as poison by kills alone.
	MaxPerItem int
}

// Validate reports a rule that cannot be used.
func (r Rule) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidRule, fmt.Sprintf(format, args...))
	}
	if r.Kind < Kill || r.Kind > Cancel {
		return bad("unknown kind %d", r.Kind)
	}
	if _, err := path.Match(r.Pattern, ""); err != nil {
		return bad("pattern %q: %v", r.Pattern, err)
	}
	if math.IsNaN(r.Rate) || r.Rate < 0 || r.Rate > 1 {
		return bad("rate %v not in [0, 1]", r.Rate)
	}
	if math.IsNaN(r.PerSecond) || math.IsInf(r.PerSecond, 0) || r.PerSecond < 0 {
		return bad("per second %v < 0", r.PerSecond)
	}
	if r.Count < 0 || r.MaxPerItem < 0 || r.Delay < 0 {
		return bad("negative count, max per item or delay")
	}
	if r.Rate > 0 && r.PerSecond > 0 {
		return bad("both Rate and PerSecond set")
	}
	if r.Rate == 0 && r.PerSecond == 0 && r.Count == 0 {
		return bad("%s rule %q chooses no hit: set Rate, PerSecond or Count", r.Kind, r.Pattern)
	}
	if r.Kind == Slow && r.Delay == 0 {
		return bad("slow rule %q without a Delay", r.Pattern)
	}
	return nil
}

// A Fault is the record of one injected fault. The error and panic values
// a [Monkey] makes are *Fault; they match [ErrInjected].
type Fault struct {
	// ID numbers the faults of a monkey from 1, in injection order.
	ID   uint64
	Kind Kind
	// Rule is the index of the rule that fired, in the order given to New.
	Rule int
	// Path is the actor's path: the actor hooked, or, at a point, the
	// actor whose Receive called Inject (when its ctx is that actor's
	// actor.Context); "" if unknown.
	Path string
	// Site is the site name of a point; "" at the actor hooks.
	Site string
	// Item is the item id given to InjectItem (HasItem true).
	Item    uint64
	HasItem bool
	// Hit is the rank of the hit among the rule's matching hits (from 1).
	Hit  uint64
	Time time.Time

	err error // a Stall's context error, returned by Unwrap
}

// Error describes the fault.
func (f *Fault) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "chaos: injected %s #%d", f.Kind, f.ID)
	if f.Path != "" {
		b.WriteString(" at ")
		b.WriteString(f.Path)
	}
	if f.Site != "" {
		b.WriteString(" (site ")
		b.WriteString(f.Site)
		if f.HasItem {
			b.WriteString(", item ")
			b.WriteString(strconv.FormatUint(f.Item, 10))
		}
		b.WriteString(")")
	}
	return b.String()
}

// Is reports whether target is ErrInjected.
func (f *Fault) Is(target error) bool { return target == ErrInjected }

// Unwrap returns, for a Stall, the error of the context that ended it
// (context.Canceled when its actor was asked to stop), so that the
// runtime treats the stalled receive as one that gave up on a stop, not as
// a failure; nil for other kinds.
func (f *Fault) Unwrap() error { return f.err }

// A Monkey injects faults chosen by its rules and a seed, and records
// every fault it injected. It implements [actor.FaultInjector]: install
// it with actor.WithFaultInjector to kill, slow down, stall or fail the
// starts of actors chosen by path. Code that builds its own actors on a
// system it does not control (such as a pipeline's stage functions) calls
// [Monkey.Inject] or [Monkey.InjectItem] at the points where a fault may
// strike.
//
// A Monkey is safe for concurrent use. A nil *Monkey injects nothing, so
// points can stay in production code at the cost of a nil check.
//
// # Determinism
//
// Whether a hit gets a fault depends only on the seed, the rule, and:
//
//   - at InjectItem, the site and the item id: the same items get the same
//     faults at the same sites whatever the order the workers run in, so a
//     seed names one fault schedule;
//   - elsewhere (actor hooks, Inject), the hit's rank among the rule's
//     matching hits: the n-th matching hit gets the same decision for a
//     seed, so the number of faults in a run of N hits is fixed, but when
//     several actors run concurrently which of them makes the n-th hit
//     (and so which worker is killed) can change from run to run;
//   - for PerSecond rules, the clock: the due times are seeded, the hits
//     that land after them are not.
//
// A Count cap is applied in the order hits arrive, so with concurrent hits
// it can make the faulted set order-dependent too.
type Monkey struct {
	seed  uint64
	rules []*rule
	kinds uint8 // bit k set: a rule of Kind k exists
	armed atomic.Bool
	start time.Time

	match   sync.Map // string (path or site) -> []int (matching rules), a cache
	onFault atomic.Pointer[func(Fault)]

	ids    atomic.Uint64
	counts [Cancel + 1]atomic.Int64 // faults injected, by kind
	mu     sync.Mutex               // guards faults, cancels, nextCancel
	faults []Fault
	// cancels holds the cancel functions of live WithCancel contexts.
	cancels    map[uint64]context.CancelCauseFunc
	nextCancel uint64
}

// rule is a Rule with its counters.
type rule struct {
	Rule
	idx   int
	salt  uint64 // mixes seed and index
	thr   uint64 // Rate threshold on a 64-bit draw
	all   bool   // Rate 1, or Count alone: every matching hit
	hits  atomic.Uint64
	fired atomic.Int64

	// PerSecond rules: due is the next due time in Unix nanoseconds; the
	// rest is guarded by mu.
	due atomic.Int64
	mu  sync.Mutex // guards rng and per
	rng *rand.Rand
	per map[itemKey]int // faults given to each item (InjectItem)
}

type itemKey struct {
	site string
	item uint64
}

// New returns an armed monkey that injects faults as rules say, its
// random choices drawn from seed. It returns an error wrapping
// ErrInvalidRule if a rule is invalid (see [Rule.Validate]).
func New(seed uint64, rules ...Rule) (*Monkey, error) {
	m := &Monkey{seed: seed, start: time.Now(), cancels: map[uint64]context.CancelCauseFunc{}}
	for i, r := range rules {
		if err := r.Validate(); err != nil {
			return nil, fmt.Errorf("rule %d: %w", i, err)
		}
		if r.MaxPerItem == 0 {
			r.MaxPerItem = 1
		}
		ru := &rule{Rule: r, idx: i, salt: mix(seed ^ mix(uint64(i)+0x51ed27))}
		switch {
		case r.Rate >= 1, r.Rate == 0 && r.PerSecond == 0:
			ru.all = true
		case r.Rate > 0:
			ru.thr = uint64(r.Rate * (1 << 64))
		}
		if r.PerSecond > 0 {
			ru.rng = rand.New(rand.NewPCG(seed, uint64(i)))
			ru.due.Store(m.start.UnixNano() + int64(ru.gap()))
		}
		m.rules = append(m.rules, ru)
		m.kinds |= 1 << r.Kind
	}
	m.armed.Store(true)
	return m, nil
}

// Seed returns the monkey's seed (0 for a nil monkey).
func (m *Monkey) Seed() uint64 {
	if m == nil {
		return 0
	}
	return m.seed
}

// Arm makes the monkey inject faults (a new monkey is armed).
func (m *Monkey) Arm() {
	if m != nil {
		m.armed.Store(true)
	}
}

// Disarm makes the monkey inject nothing until Arm; a hit meanwhile
// neither gets a fault nor counts toward a rule's ranks. Faults already
// injected are kept. Disarm before a final shutdown to leave it alone.
func (m *Monkey) Disarm() {
	if m != nil {
		m.armed.Store(false)
	}
}

// Faults returns a copy of the faults injected so far, in ID order.
func (m *Monkey) Faults() []Fault {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	out := slices.Clone(m.faults)
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b Fault) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Count returns how many faults of kind k were injected so far.
func (m *Monkey) Count(k Kind) int {
	if m == nil || int(k) >= len(m.counts) {
		return 0
	}
	return int(m.counts[k].Load())
}

// OnFault makes the monkey call f with each fault it injects from now on
// (nil stops it). f runs on the goroutine of the hit, before the fault
// takes effect (before a Kill panics, a Stall blocks...), so it sees a
// fault before its consequences; it must be fast and must not block.
func (m *Monkey) OnFault(f func(Fault)) {
	if m == nil {
		return
	}
	if f == nil {
		m.onFault.Store(nil)
		return
	}
	m.onFault.Store(&f)
}

// WithCancel returns a copy of parent that the monkey cancels when a
// Cancel fault fires (context.Cause then returns the *Fault), and a
// function that cancels it and stops the monkey from tracking it. Pass the
// context to pipeline.Run (or anything that stops when its context ends) to
// let a Cancel rule abort it. A nil parent is context.Background(); a nil
// monkey returns a plain context.WithCancel(parent).
func (m *Monkey) WithCancel(parent context.Context) (context.Context, context.CancelFunc) {
	parent = orBackground(parent)
	if m == nil {
		return context.WithCancel(parent)
	}
	ctx, cancel := context.WithCancelCause(parent)
	m.mu.Lock()
	m.nextCancel++
	id := m.nextCancel
	m.cancels[id] = cancel
	m.mu.Unlock()
	return ctx, func() {
		m.mu.Lock()
		delete(m.cancels, id)
		m.mu.Unlock()
		cancel(context.Canceled)
	}
}

// BeforeReceive implements [actor.FaultInjector]: Kill, Slow, Stall and
// Cancel rules whose Pattern matches ctx.Path() apply to each receive. A
// nil ctx (no actor) gets no fault.
func (m *Monkey) BeforeReceive(ctx actor.Context) error {
	if m == nil || ctx == nil || m.kinds&^(1<<FailStart) == 0 || !m.armed.Load() {
		return nil
	}
	return m.hit(ctx, hook{path: ctx.Path(), target: ctx.Path(), attempt: ctx.Attempt(), receive: true})
}

// BeforeStart implements [actor.FaultInjector]: FailStart rules whose
// Pattern matches ctx.Path() apply to each start of an incarnation. A nil
// ctx (no actor) gets no fault.
func (m *Monkey) BeforeStart(ctx actor.Context) error {
	if m == nil || ctx == nil || m.kinds&(1<<FailStart) == 0 || !m.armed.Load() {
		return nil
	}
	return m.hit(ctx, hook{path: ctx.Path(), target: ctx.Path(), start: true})
}

// Inject is a fault point in user code, named site: the rules whose
// Pattern matches site apply. A Kill panics with its *Fault (call Inject
// only where a panic is a failure, such as a Receive or a pipeline stage
// function); a FailStart or a Stall returns its *Fault, which the caller
// should return as its error; a Slow delays; a Cancel cancels the
// monkey's contexts. Inject returns nil when no fault fires.
//
// If ctx is an actor's actor.Context, the fault records the actor's path.
// A Slow or a Stall ends early when ctx ends; a nil ctx is
// context.Background(), so a Stall then blocks for good.
func (m *Monkey) Inject(ctx context.Context, site string) error {
	if m == nil || !m.armed.Load() {
		return nil
	}
	ctx = orBackground(ctx)
	return m.hit(ctx, hook{path: pathOf(ctx), target: site, site: site})
}

// InjectItem is Inject for a point that handles the item with the given
// id: the decision depends on the seed, the site and the id, not on the
// order of the hits, and each rule gives one item at most its MaxPerItem
// faults at a site (so retries of the item go through).
func (m *Monkey) InjectItem(ctx context.Context, site string, id uint64) error {
	if m == nil || !m.armed.Load() {
		return nil
	}
	ctx = orBackground(ctx)
	return m.hit(ctx, hook{path: pathOf(ctx), target: site, site: site, item: id, hasItem: true})
}

// orBackground is the package's rule for a nil context: it is
// context.Background().
func orBackground(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}

func pathOf(ctx context.Context) string {
	if ac, ok := ctx.(actor.Context); ok {
		return ac.Path()
	}
	return ""
}

// hook describes one hit.
type hook struct {
	path, target, site string
	item               uint64
	hasItem            bool
	attempt            int // delivery attempt at the receive hook, else 0
	receive, start     bool
}

// applies reports whether a rule of kind k is consulted by the hit.
func (h *hook) applies(k Kind) bool {
	switch {
	case h.start:
		return k == FailStart
	case h.receive:
		return k != FailStart
	}
	return true
}

// matching returns the indexes of the rules whose pattern matches target,
// cached per target (actor paths and site names are few).
func (m *Monkey) matching(target string) []int {
	if v, ok := m.match.Load(target); ok {
		return v.([]int)
	}
	var idx []int
	for i, r := range m.rules {
		if r.Pattern == "" {
			idx = append(idx, i)
			continue
		}
		if ok, _ := path.Match(r.Pattern, target); ok {
			idx = append(idx, i)
		}
	}
	m.match.Store(target, idx)
	return idx
}

// hit consults the rules in order. Cancel and Slow faults take effect and
// the next rules are consulted; the first Kill, FailStart or Stall that
// fires ends the hit (rules after it are not consulted, so their ranks do
// not advance).
func (m *Monkey) hit(ctx context.Context, h hook) error {
	for _, i := range m.matching(h.target) {
		r := m.rules[i]
		if !h.applies(r.Kind) {
			continue
		}
		rank, ok := r.decide(m, &h)
		if !ok {
			continue
		}
		f := m.record(r, &h, rank)
		switch r.Kind {
		case Cancel:
			m.cancelAll(f)
		case Slow:
			t := time.NewTimer(r.Delay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		case Stall:
			<-ctx.Done()
			if r.Delay > 0 {
				time.Sleep(r.Delay)
			}
			f.err = ctx.Err()
			return f
		case FailStart:
			return f
		case Kill:
			panic(f)
		}
	}
	return nil
}

// decide advances the rule's rank and reports whether the hit gets a
// fault.
func (r *rule) decide(m *Monkey, h *hook) (uint64, bool) {
	if h.receive && h.attempt > r.MaxPerItem {
		return 0, false
	}
	rank := r.hits.Add(1)
	var fire bool
	switch {
	case r.PerSecond > 0:
		fire = r.dueNow()
	case r.all:
		fire = true
	case h.hasItem:
		fire = mix(r.salt^siteHash(h.site)^mix(h.item)) < r.thr
	default:
		fire = mix(r.salt^mix(rank)) < r.thr
	}
	if !fire {
		return rank, false
	}
	if h.hasItem {
		k := itemKey{h.site, h.item}
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.per[k] >= r.MaxPerItem {
			return rank, false
		}
		if !r.take() {
			return rank, false
		}
		if r.per == nil {
			r.per = map[itemKey]int{}
		}
		r.per[k]++
		return rank, true
	}
	return rank, r.take()
}

// take counts one fault against the rule's Count cap.
func (r *rule) take() bool {
	if r.Count == 0 {
		r.fired.Add(1)
		return true
	}
	for {
		n := r.fired.Load()
		if n >= int64(r.Count) {
			return false
		}
		if r.fired.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// dueNow reports whether a PerSecond rule's due time has come, and if so
// moves it on by a fresh gap (from now when the rule fell behind).
func (r *rule) dueNow() bool {
	now := time.Now().UnixNano()
	if now < r.due.Load() {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	due := r.due.Load()
	if now < due {
		return false // another hit took it
	}
	next := due + int64(r.gap())
	if next <= now {
		next = now + int64(r.gap())
	}
	r.due.Store(next)
	return true
}

// gap draws the time to the next due fault of a PerSecond rule
// (exponential, mean 1/PerSecond). Called under r.mu or before r is used.
func (r *rule) gap() time.Duration {
	return time.Duration(r.rng.ExpFloat64() / r.PerSecond * float64(time.Second))
}

func (m *Monkey) record(r *rule, h *hook, rank uint64) *Fault {
	f := &Fault{
		ID: m.ids.Add(1), Kind: r.Kind, Rule: r.idx, Path: h.path, Site: h.site,
		Item: h.item, HasItem: h.hasItem, Hit: rank, Time: time.Now(),
	}
	m.mu.Lock()
	m.faults = append(m.faults, *f)
	m.mu.Unlock()
	m.counts[f.Kind].Add(1)
	if fn := m.onFault.Load(); fn != nil {
		(*fn)(*f)
	}
	return f
}

func (m *Monkey) cancelAll(f *Fault) {
	m.mu.Lock()
	fns := make([]context.CancelCauseFunc, 0, len(m.cancels))
	for _, c := range m.cancels {
		fns = append(fns, c)
	}
	m.mu.Unlock()
	for _, c := range fns {
		c(f)
	}
}

// mix is the splitmix64 finaliser: a cheap, well-spread 64-bit hash.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// siteHash is FNV-1a: stable across processes, unlike hash/maphash, so a
// seed names the same schedule in every run.
func siteHash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

var _ actor.FaultInjector = (*Monkey)(nil)
