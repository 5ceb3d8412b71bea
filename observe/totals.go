package observe

import (
	"slices"
	"strings"
	"sync"
)

// A KindCap bounds the values of troupe.actor.kind an exporter emits: the
// first Max distinct kinds it admits keep their names for its lifetime,
// so series stay stable across collections; later ones fold into
// ErrorOtherKind. Both adapters export through one, so they agree on
// which kinds fold. Its methods are safe for concurrent use.
type KindCap struct {
	max      int
	mu       sync.Mutex
	admitted map[string]bool
	folded   uint64 // the most kinds one Totals call folded
}

// NewKindCap returns a KindCap admitting max kinds (DefaultMaxKinds if
// max < 1).
func NewKindCap(max int) *KindCap {
	if max < 1 {
		max = DefaultMaxKinds
	}
	return &KindCap{max: max, admitted: map[string]bool{}}
}

// Name returns kind, or ErrorOtherKind if kind is past the cap.
func (c *KindCap) Name(kind string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.name(kind)
}

func (c *KindCap) name(kind string) string {
	if kind == ErrorOtherKind || c.admitted[kind] {
		return kind
	}
	if len(c.admitted) < c.max {
		c.admitted[kind] = true
		return kind
	}
	return ErrorOtherKind
}

// Totals is a Snapshot aggregated the way the metrics export it: by
// actor kind (capped), by supervisor name and by pipeline and stage,
// each sorted by name.
type Totals struct {
	Kinds []KindStats
	// KindOverflow is the most kinds one collection folded into
	// ErrorOtherKind (troupe.telemetry.kind_overflow).
	KindOverflow uint64
	Supervisors  []SupervisorTotal
	Stages       []StageTotal
}

// SupervisorTotal is the supervisors that share a name: their give-ups
// summed, and the restart usage and limit of the one closest to its limit
// (the highest usage/limit), so an alert on usage/limit fires when any
// of them is about to escalate.
type SupervisorTotal struct {
	Name             string
	GaveUp           uint64
	RestartsInWindow int
	MaxRestarts      int
}

// StageTotal sums the stages that share a pipeline and stage name.
type StageTotal struct {
	Pipeline, Stage             string
	Received, Emitted, Failures uint64
	InFlight                    int64
	BlockedSeconds              float64
}

// Totals aggregates snap. key maps every name and map key that becomes an
// attribute value (an exporter's repair of invalid text); nil leaves
// them as they are.
func (c *KindCap) Totals(snap Snapshot, key func(string) string) Totals {
	if key == nil {
		key = func(s string) string { return s }
	}
	var t Totals

	kinds := map[string]*KindStats{}
	folded := map[string]bool{}
	c.mu.Lock()
	for i := range snap.Kinds {
		k := &snap.Kinds[i]
		name := key(k.Kind)
		if n := c.name(name); n != name {
			folded[name] = true
			name = n
		}
		a := kinds[name]
		if a == nil {
			a = &KindStats{Kind: name}
			kinds[name] = a
		}
		addKind(a, k, key)
	}
	c.folded = max(c.folded, uint64(len(folded)))
	t.KindOverflow = c.folded
	c.mu.Unlock()
	for _, n := range sortedKeys(kinds) {
		t.Kinds = append(t.Kinds, *kinds[n])
	}

	sups := map[string]*SupervisorTotal{}
	var walk func([]Node)
	walk = func(nodes []Node) {
		for i := range nodes {
			n := &nodes[i]
			if s := n.Supervisor; s != nil {
				name := key(n.Name)
				g := sups[name]
				if g == nil {
					g = &SupervisorTotal{Name: name, RestartsInWindow: s.RestartsInWindow, MaxRestarts: s.MaxRestarts}
					sups[name] = g
				} else if closer(s.RestartsInWindow, s.MaxRestarts, g.RestartsInWindow, g.MaxRestarts) {
					g.RestartsInWindow, g.MaxRestarts = s.RestartsInWindow, s.MaxRestarts
				}
				g.GaveUp += s.GaveUp
			}
			walk(n.Children)
		}
	}
	walk(snap.Nodes)
	for _, n := range sortedKeys(sups) {
		t.Supervisors = append(t.Supervisors, *sups[n])
	}

	stages := map[[2]string]*StageTotal{}
	for _, p := range snap.Pipelines {
		for _, s := range p.Stages {
			k := [2]string{key(p.Name), key(s.Name)}
			g := stages[k]
			if g == nil {
				g = &StageTotal{Pipeline: k[0], Stage: k[1]}
				stages[k] = g
			}
			g.Received += s.Received
			g.Emitted += s.Emitted
			g.Failures += s.Failures
			g.InFlight += s.InFlight
			g.BlockedSeconds += s.BlockedSeconds
		}
	}
	for _, g := range stages {
		t.Stages = append(t.Stages, *g)
	}
	slices.SortFunc(t.Stages, func(a, b StageTotal) int {
		if a.Pipeline != b.Pipeline {
			return strings.Compare(a.Pipeline, b.Pipeline)
		}
		return strings.Compare(a.Stage, b.Stage)
	})
	return t
}

// addKind adds k's counts into a: depths and limits summed, the deepest
// mailbox kept, histograms with the same bounds added.
func addKind(a, k *KindStats, key func(string) string) {
	a.Spawns += k.Spawns
	a.Running += k.Running
	a.Restarts += k.Restarts
	a.Processed += k.Processed
	a.MailboxDepth += k.MailboxDepth
	a.MailboxMax = max(a.MailboxMax, k.MailboxMax)
	a.MailboxLimit += k.MailboxLimit
	a.Stops = addCounts(a.Stops, k.Stops, key)
	a.Failures = addCounts(a.Failures, k.Failures, key)
	a.Dropped = addCounts(a.Dropped, k.Dropped, key)
	a.WaitDuration = addBuckets(a.WaitDuration, k.WaitDuration)
	a.ProcessDuration = addBuckets(a.ProcessDuration, k.ProcessDuration)
	for e, b := range k.ProcessFailed {
		if a.ProcessFailed == nil {
			a.ProcessFailed = map[string]*Buckets{}
		}
		e = key(e)
		a.ProcessFailed[e] = addBuckets(a.ProcessFailed[e], b)
	}
}

func addCounts(dst, src map[string]uint64, key func(string) string) map[string]uint64 {
	for k, v := range src {
		if dst == nil {
			dst = map[string]uint64{}
		}
		dst[key(k)] += v
	}
	return dst
}

// addBuckets returns the sum of two histograms with the same bounds (a
// copy: the Snapshot's stay as they are); one with other bounds is left
// out.
func addBuckets(dst, src *Buckets) *Buckets {
	if src == nil {
		return dst
	}
	if dst == nil {
		c := *src
		c.Counts = slices.Clone(src.Counts)
		return &c
	}
	if !slices.Equal(dst.Bounds, src.Bounds) || len(dst.Counts) != len(src.Counts) {
		return dst
	}
	for i, n := range src.Counts {
		dst.Counts[i] += n
	}
	dst.Count += src.Count
	dst.Sum += src.Sum
	return dst
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// closer reports whether usage u of limit l is closer to its limit than
// u2 of l2 (a higher u/l; a limit of 0 is as close as can be).
func closer(u, l, u2, l2 int) bool {
	if l <= 0 || l2 <= 0 {
		return l <= 0 && l2 > 0
	}
	return u*l2 > u2*l
}
