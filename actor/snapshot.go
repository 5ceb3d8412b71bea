package actor

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/troupe-go/troupe/mailbox"
	"github.com/troupe-go/troupe/observe"
)

// A Describer is implemented by actors that add to their node in a
// Snapshot; supervisors do. Describe gathers what the actor adds: it is
// called on a goroutine of the snapshot, concurrently with the actor's own
// goroutine and with other Describers, so it may read only what is safe
// to read from another goroutine, and it must return soon after ctx ends
// (a supervisor that cannot answer in time reports itself unresponsive).
// It returns a function that writes what it gathered into the actor's
// node, already filled by the runtime (children included); Snapshot calls
// those functions one at a time, parents before children, after every
// Describe returned.
type Describer interface {
	Describe(ctx context.Context) func(n *observe.Node)
}

// WithKind names the actor's kind: the attribute by which metrics group
// actors (never by path or name). The default is the Go type of the
// actor the factory builds, like "main.worker"; give one to actors built
// by generic or shared types such as Func.
func WithKind(kind string) SpawnOption {
	return spawnFunc(func(c *config) error { c.kind = kind; return nil })
}

// kindStats are the cumulative counters of one kind of actor.
type kindStats struct {
	name     string
	spawns   atomic.Uint64
	restarts atomic.Uint64
	retired  atomic.Uint64 // messages processed by actors that stopped
	stops    [Killed + 1]atomic.Uint64
	// dropped counts messages dropped by a mailbox policy, indexed by
	// mailbox.Policy: one atomic add per drop, no lock on that path.
	dropped  [mailbox.DropOldest + 1]atomic.Uint64
	mu       sync.Mutex // guards failures, clk.failed
	failures map[string]uint64
	clk      *kindClocks // under WithMessageTiming, else nil
}

func (k *kindStats) addFailure(errType string) {
	k.mu.Lock()
	if k.failures == nil {
		k.failures = map[string]uint64{}
	}
	k.failures[errType]++
	k.mu.Unlock()
}

// addDropped counts one message dropped under the mailbox policy of c.
func (k *kindStats) addDropped(c *mailbox.Config) {
	if c != nil && int(c.Policy) < len(k.dropped) {
		k.dropped[c.Policy].Add(1)
	}
}

// droppedCounts returns the drops by policy name, nil if none.
func (k *kindStats) droppedCounts() map[string]uint64 {
	var out map[string]uint64
	for pol := range k.dropped {
		if n := k.dropped[pol].Load(); n > 0 {
			if out == nil {
				out = map[string]uint64{}
			}
			out[policyName(&mailbox.Config{Policy: mailbox.Policy(pol)})] = n
		}
	}
	return out
}

// kinds is a System's table of kinds, capped at observe.DefaultMaxKinds;
// further kinds fold into observe.ErrorOtherKind ("other").
type kinds struct {
	mu       sync.Mutex
	byName   map[string]*kindStats
	order    []*kindStats
	overflow atomic.Uint64
}

func (s *System) kindOf(name string) *kindStats {
	t := &s.kinds
	t.mu.Lock()
	defer t.mu.Unlock()
	if k := t.byName[name]; k != nil {
		return k
	}
	if len(t.byName) >= observe.DefaultMaxKinds {
		t.overflow.Add(1)
		name = observe.ErrorOtherKind
		if k := t.byName[name]; k != nil {
			return k
		}
	}
	if t.byName == nil {
		t.byName = map[string]*kindStats{}
	}
	k := &kindStats{name: name}
	if s.clocks {
		k.clk = new(kindClocks)
	}
	t.byName[name] = k
	t.order = append(t.order, k)
	return k
}

// kindName is the default kind of an actor: its Go type, package name
// and type name, without type arguments.
func kindName(a any) string {
	t := reflect.TypeOf(a)
	if t == nil {
		return ""
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	name := t.Name()
	if i := strings.IndexByte(name, '['); i >= 0 {
		name = name[:i]
	}
	pkg := t.PkgPath()
	if i := strings.LastIndexByte(pkg, '/'); i >= 0 {
		pkg = pkg[i+1:]
	}
	if name == "" {
		return t.String()
	}
	if pkg == "" {
		return name
	}
	return pkg + "." + name
}

// Snapshot returns the System's tree now: every actor with its children
// in spawn order, what each Describer (supervisor) adds, the pipelines
// registered with RegisterPipeline, the per-kind aggregates metrics are
// made of, and dead-letter counts. It reads counters without locks the
// runtime holds for long, and never waits past ctx for a Describer: a
// supervisor that does not answer in time is shown as the runtime sees it
// and marked unresponsive. Snapshot implements observe.Source.
func (s *System) Snapshot(ctx context.Context, opts observe.SnapshotOptions) observe.Snapshot {
	ctx = orBackground(ctx)
	snap := observe.Snapshot{Schema: observe.SchemaVersion, System: s.name, Time: s.now()}
	w := walker{limit: opts.Limit, now: snap.Time}
	snap.Nodes = w.children(&s.root)
	snap.Truncated = w.truncated
	// Describers run concurrently, so one stuck supervisor costs ctx once,
	// not once per supervisor after it.
	var wg sync.WaitGroup
	apply := make([]func(*observe.Node), len(w.describers))
	for i, d := range w.describers {
		wg.Add(1)
		// Owner: Snapshot; it waits for every Describe, each bounded by ctx.
		go func() {
			defer wg.Done()
			apply[i] = d.d.Describe(ctx)
		}()
	}
	wg.Wait()
	for i, d := range w.describers { // in walk order: parents first
		if apply[i] != nil {
			apply[i](d.n)
		}
	}

	s.kinds.mu.Lock()
	ks := append([]*kindStats(nil), s.kinds.order...)
	s.kinds.mu.Unlock()
	live := w.live
	for _, k := range ks {
		out := observe.KindStats{Kind: k.name, Spawns: k.spawns.Load(), Restarts: k.restarts.Load(), Processed: k.retired.Load()}
		for r := Normal; r <= Killed; r++ {
			if n := k.stops[r].Load(); n > 0 {
				if out.Stops == nil {
					out.Stops = map[string]uint64{}
				}
				out.Stops[r.String()] = n
			}
		}
		k.mu.Lock()
		out.Failures = cloneCounts(k.failures)
		k.mu.Unlock()
		out.Dropped = k.droppedCounts()
		k.clockStats(&out)
		if l, ok := live[k]; ok {
			out.Running, out.Processed = l.Running, out.Processed+l.Processed
			out.MailboxDepth, out.MailboxMax, out.MailboxLimit = l.MailboxDepth, l.MailboxMax, l.MailboxLimit
		}
		snap.Kinds = append(snap.Kinds, out)
	}
	for r := DeadStopped; r < deadReasons; r++ {
		if n := s.deadBy[r].Load(); n > 0 {
			if snap.DeadLetters == nil {
				snap.DeadLetters = map[string]uint64{}
			}
			snap.DeadLetters[r.String()] = n
		}
	}
	snap.EventsDropped = s.eventsDropped.Load()
	s.pipeMu.Lock()
	pipes := append([]*pipeReg(nil), s.pipes...)
	s.pipeMu.Unlock()
	for _, p := range pipes {
		snap.Pipelines = append(snap.Pipelines, p.f())
	}
	return snap
}

func cloneCounts(m map[string]uint64) map[string]uint64 {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]uint64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// walker builds the node tree of a Snapshot.
type walker struct {
	limit, count, truncated int
	now                     time.Time
	describers              []describeJob
	live                    map[*kindStats]*observe.KindStats
}

type describeJob struct {
	d Describer
	n *observe.Node
}

// children returns the nodes of n's children in spawn order.
func (w *walker) children(n *node) []observe.Node {
	f := n.fam.Load()
	if f == nil {
		return nil
	}
	f.mu.Lock()
	var kids []*node
	for c := f.first; c != nil; c = c.next {
		kids = append(kids, c)
	}
	f.mu.Unlock()
	out := make([]observe.Node, 0, len(kids))
	for _, c := range kids {
		if w.limit > 0 && w.count >= w.limit {
			w.truncated += 1 + countBelow(c)
			continue
		}
		w.count++
		out = append(out, observe.Node{})
		nd := &out[len(out)-1]
		d := c.cell.describe(nd, w.now)
		if k := c.cell.kindStats(); k != nil {
			if w.live == nil {
				w.live = map[*kindStats]*observe.KindStats{}
			}
			l := w.live[k]
			if l == nil {
				l = &observe.KindStats{}
				w.live[k] = l
			}
			if nd.Status == observe.StatusRunning {
				l.Running++
			}
			l.Processed += nd.Processed
			l.MailboxDepth += nd.Mailbox.Depth
			l.MailboxMax = max(l.MailboxMax, nd.Mailbox.Depth)
			l.MailboxLimit += nd.Mailbox.Capacity
		}
		nd.Children = w.children(c)
		if d != nil {
			w.describers = append(w.describers, describeJob{d: d, n: nd})
		}
	}
	// Pointers into out stay valid: it is not appended to any more.
	return out
}

func countBelow(n *node) int {
	f := n.fam.Load()
	if f == nil {
		return 0
	}
	f.mu.Lock()
	var kids []*node
	for c := f.first; c != nil; c = c.next {
		kids = append(kids, c)
	}
	f.mu.Unlock()
	total := len(kids)
	for _, c := range kids {
		total += countBelow(c)
	}
	return total
}

// describe fills nd with what the runtime knows of p and returns the
// current incarnation's Describer, if any.
func (p *proc[M]) describe(nd *observe.Node, now time.Time) Describer {
	nd.Name, nd.Path = p.name(), p.path
	nd.Type = observe.TypeActor
	if p.managed {
		nd.Type = observe.TypeWorker
	}
	st := p.Stats()
	nd.Restarts, nd.Processed, nd.Failures, nd.DeadLettered = st.Restarts, st.Processed, st.Failures, st.DeadLettered
	nd.Mailbox = observe.Mailbox{Depth: st.MailboxLen, Capacity: st.MailboxCap, Dropped: st.Dropped, Policy: policyName(p.cfg.mailbox)}
	p.mu.Lock()
	nd.Incarnation = p.gen
	switch p.state {
	case stWaiting:
		nd.Status = observe.StatusRestarting
	case stStarting:
		nd.Status = observe.StatusStarting
	case stRunning:
		nd.Status = observe.StatusRunning
	case stParked:
		nd.Status = observe.StatusDown
	case stClosing:
		nd.Status = observe.StatusStopping
	default:
		nd.Status = observe.StatusStopped
	}
	var rec *failRec
	if r := p.rare.Load(); r != nil {
		rec = r.lastFail
	}
	p.mu.Unlock()
	if rec != nil {
		nd.LastFailure = rec.snapshot()
	}
	if k := p.kc.Load(); k != nil {
		nd.Kind = k.name
	}
	var d Describer
	if inc := p.inc.Load(); inc != nil {
		t := time.Unix(0, inc.started)
		nd.Started = &t
		d, _ = inc.actor.(Describer)
	}
	return d
}

func (p *proc[M]) kindStats() *kindStats { return p.kc.Load() }

func (p *proc[M]) kept() bool { return p.cfg.keep }

// policyName is the mailbox.policy attribute value of a mailbox config.
func policyName(c *mailbox.Config) string {
	if c == nil {
		return "block"
	}
	switch c.Policy {
	case mailbox.Reject:
		return "reject"
	case mailbox.DropNewest:
		return "drop_newest"
	case mailbox.DropOldest:
		return "drop_oldest"
	}
	return "block"
}

// failRec is an actor's last failure as recorded: the error is kept as
// it is and turned into text (message, stack) only when a Snapshot asks,
// so a restart does not pay for formatting a stack nobody reads.
type failRec struct {
	f   observe.Failure // ID, Time and ErrorType
	err error
}

// snapshot returns the observe form of r, formatting its error.
func (r *failRec) snapshot() *observe.Failure {
	lf := r.f
	if r.err == nil {
		return &lf
	}
	lf.Message = r.err.Error()
	var f *Failure
	var se *StartError
	switch {
	case asFailure(r.err, &f):
		lf.Stack = string(f.Stack())
	case asStartError(r.err, &se):
		var pe *PanicError
		if asPanic(se.Err, &pe) {
			lf.Stack = string(pe.Stack())
		}
	}
	return &lf
}

// recordFailure keeps e (a failure or a kill) as the actor's last
// failure for Snapshot, and counts it for its kind. The caller holds no
// lock.
func (p *proc[M]) recordFailure(e ending) {
	if e.fid == 0 || (e.reason != Failed && e.reason != Killed) {
		return
	}
	rec := &failRec{f: observe.Failure{ID: e.fid, Time: p.sys.now(), ErrorType: ErrorType(e.err)}, err: e.err}
	p.mu.Lock()
	p.r().lastFail = rec
	p.mu.Unlock()
	if k := p.kc.Load(); k != nil {
		k.addFailure(rec.f.ErrorType)
	}
}

// pipeReg is a pipeline registered with a System for Snapshot.
type pipeReg struct{ f func() observe.Pipeline }

// RegisterPipeline adds a pipeline to the System's Snapshot: f is called
// for every snapshot, on the goroutine taking it, and must not block. It
// returns the function that removes it. This is an extension point for
// the pipeline package.
func (s *System) RegisterPipeline(f func() observe.Pipeline) (unregister func()) {
	if f == nil {
		return func() {}
	}
	r := &pipeReg{f: f}
	s.pipeMu.Lock()
	s.pipes = append(s.pipes, r)
	s.pipeMu.Unlock()
	return func() {
		s.pipeMu.Lock()
		defer s.pipeMu.Unlock()
		for i, o := range s.pipes {
			if o == r {
				s.pipes = append(s.pipes[:i], s.pipes[i+1:]...)
				return
			}
		}
	}
}

// WithName names the System in snapshots and metrics (troupe.system).
// The default is "troupe".
func WithName(name string) Option {
	return optionFunc(func(s *System) {
		if name != "" {
			s.name = name
		}
	})
}

var _ observe.Source = (*System)(nil)
