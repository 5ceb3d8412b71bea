package strategy_test

import (
	"strings"
	"testing"

	"github.com/troupe-go/troupe/strategy"
)

// kids builds a child list from words "id/restart/status", where restart
// is p, tr or tmp and status is up, down or rst; "/p/up" may be left out.
func kids(spec string) []strategy.ChildState {
	var out []strategy.ChildState
	for _, w := range strings.Fields(spec) {
		f := strings.Split(w, "/")
		c := strategy.ChildState{ID: f[0]}
		if len(f) > 1 {
			c.Restart = map[string]strategy.Restart{"p": strategy.Permanent, "tr": strategy.Transient, "tmp": strategy.Temporary}[f[1]]
		}
		if len(f) > 2 {
			c.Status = map[string]strategy.Status{"up": strategy.Running, "down": strategy.Down, "rst": strategy.Restarting}[f[2]]
		}
		out = append(out, c)
	}
	return out
}

// ids turns plan indexes back into space-separated child ids.
func ids(children []strategy.ChildState, idx []int) string {
	var s []string
	for _, i := range idx {
		s = append(s, children[i].ID)
	}
	return strings.Join(s, " ")
}

// TestGroup covers FORMAT §4.5 for the three kinds, including the group
// restarts of the shared OTP scenarios.
func TestGroup(t *testing.T) {
	const (
		o4o = strategy.OneForOne
		o4a = strategy.OneForAll
		r4o = strategy.RestForOne
	)
	cases := []struct {
		name     string
		kind     strategy.Strategy
		children string
		failed   string
		stop     string // reverse start order
		remove   string
		start    string // start order
	}{
		{"one_for_one first (02)", o4o, "a b c", "a", "", "", "a"},
		{"one_for_one middle (02)", o4o, "a b c", "b", "", "", "b"},
		{"one_for_one last (02)", o4o, "a b c", "c", "", "", "c"},
		{"one_for_one ignores down siblings", o4o, "a/tr/down b c/p/down", "b", "", "", "b"},
		{"one_for_one retry (09)", o4o, "a b/p/rst c", "b", "", "", "b"},
		{"one_for_one temporary failed child is only removed", o4o, "a t/tmp/down", "t", "", "t", ""},

		{"one_for_all single crash (14)", o4a, "a b c", "b", "c a", "", "a b c"},
		{"one_for_all first (15)", o4a, "a b c", "a", "c b", "", "a b c"},
		{"one_for_all last (15)", o4a, "a b c", "c", "b a", "", "a b c"},
		{"one_for_all temporary sibling (17)", o4a, "a t2/tmp b/tr c", "c", "b t2 a", "t2", "a b c"},
		{"one_for_all down siblings restarted (18)", o4a, "a b/tr/down c d/p/down", "a", "c", "", "a b c d"},
		{"one_for_all retry after failed start (19)", o4a, "a b c/p/rst d/p/down", "c", "b a", "", "a b c d"},
		{"one_for_all failed child already down", o4a, "a/p/down b/tr/down", "a", "", "", "a b"},
		{"one_for_all only child", o4a, "a", "a", "", "", "a"},
		{"one_for_all transient failed child", o4a, "a b/tr c", "b", "c a", "", "a b c"},

		{"rest_for_one middle (21)", r4o, "a b c d", "b", "d c", "", "b c d"},
		{"rest_for_one first (22)", r4o, "a b c d", "a", "d c b", "", "a b c d"},
		{"rest_for_one last (22)", r4o, "a b c d", "d", "", "", "d"},
		{"rest_for_one temporary and down transient after (24)", r4o, "a b t/tmp tr/tr/down c", "b", "c t", "t", "b tr c"},
		{"rest_for_one first with shutdown (24)", r4o, "a b tr/tr c", "a", "c tr b", "", "a b tr c"},
		{"rest_for_one retry touches nothing before (25)", r4o, "a b c/p/rst d/p/down", "c", "", "", "c d"},
		{"rest_for_one ignores temporary before", r4o, "t/tmp a b", "a", "b", "", "a b"},
		{"rest_for_one dynamic children appended (26)", r4o, "a b e f/tmp", "b", "f e", "f", "b e"},
		{"rest_for_one last dynamic child (26)", r4o, "a b e", "e", "", "", "e"},

		{"unknown kind is one_for_one", strategy.Strategy(9), "a b c", "b", "", "", "b"},
	}
	for _, c := range cases {
		children := kids(c.children)
		failed := -1
		for i, k := range children {
			if k.ID == c.failed {
				failed = i
			}
		}
		p := strategy.Group(c.kind, children, failed)
		if got := ids(children, p.Stop); got != c.stop {
			t.Errorf("%s: Stop = %q; want %q", c.name, got, c.stop)
		}
		if got := ids(children, p.Remove); got != c.remove {
			t.Errorf("%s: Remove = %q; want %q", c.name, got, c.remove)
		}
		if got := ids(children, p.Start); got != c.start {
			t.Errorf("%s: Start = %q; want %q", c.name, got, c.start)
		}
	}
}

func TestGroupDoesNotModifyChildren(t *testing.T) {
	children := kids("a b t/tmp tr/tr/down c")
	before := append([]strategy.ChildState(nil), children...)
	strategy.Group(strategy.OneForAll, children, 1)
	for i := range children {
		if children[i] != before[i] {
			t.Errorf("children[%d] = %v; want %v", i, children[i], before[i])
		}
	}
}

func TestGroupPanicsOnBadIndex(t *testing.T) {
	cases := []struct {
		n, failed int
	}{
		{0, 0},
		{3, -1},
		{3, 3},
	}
	for _, c := range cases {
		func() {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("Group with %d children, failed %d: got no panic; want a panic", c.n, c.failed)
				}
			}()
			strategy.Group(strategy.OneForAll, make([]strategy.ChildState, c.n), c.failed)
		}()
	}
}
