package observe_test

import (
	"strings"
	"testing"

	"github.com/troupe-go/troupe/observe"
)

// TestTotals checks the aggregation both adapters export: kinds capped
// with the same kinds kept from one call to the next, supervisors of one
// name reported by the one closest to its limit, stages summed, and key
// applied to every name.
func TestTotals(t *testing.T) {
	c := observe.NewKindCap(2)
	snap := func(kinds ...string) observe.Snapshot {
		s := observe.Snapshot{
			Nodes: []observe.Node{
				{Name: "pool", Supervisor: &observe.Supervisor{MaxRestarts: 10, RestartsInWindow: 3, GaveUp: 1}},
				{Name: "pool", Supervisor: &observe.Supervisor{MaxRestarts: 3, RestartsInWindow: 2, GaveUp: 2}},
			},
			Pipelines: []observe.Pipeline{
				{Name: "etl", Stages: []observe.Stage{{Name: "parse", Received: 4, InFlight: 1}}},
				{Name: "etl", Stages: []observe.Stage{{Name: "parse", Received: 6, InFlight: 2}}},
			},
		}
		for _, k := range kinds {
			s.Kinds = append(s.Kinds, observe.KindStats{Kind: k, Spawns: 1, Failures: map[string]uint64{"Panic": 1}})
		}
		return s
	}
	first := c.Totals(snap("b", "a", "c"), strings.ToLower)
	if got := kindNames(first); got != "a b other" || first.KindOverflow != 1 {
		t.Errorf("first call: kinds %q, overflow %d; want \"a b other\", 1", got, first.KindOverflow)
	}
	// c came first this time, but a and b keep their names.
	second := c.Totals(snap("c", "a", "b"), strings.ToLower)
	if got := kindNames(second); got != "a b other" {
		t.Errorf("second call: kinds %q; want \"a b other\"", got)
	}
	if f := second.Kinds[0].Failures; f["panic"] != 1 {
		t.Errorf("failures of a: %v; want key repaired to panic", f)
	}
	if s := second.Supervisors; len(s) != 1 || s[0].RestartsInWindow != 2 || s[0].MaxRestarts != 3 || s[0].GaveUp != 3 {
		t.Errorf("supervisors: %+v; want one pool at 2 of 3 (the closer to its limit) with 3 give-ups", s)
	}
	if s := second.Stages; len(s) != 1 || s[0].Received != 10 || s[0].InFlight != 3 {
		t.Errorf("stages: %+v; want one etl/parse with 10 received, 3 in flight", s)
	}
}

func kindNames(t observe.Totals) string {
	var names []string
	for _, k := range t.Kinds {
		names = append(names, k.Kind)
	}
	return strings.Join(names, " ")
}
