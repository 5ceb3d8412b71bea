package observe_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/troupe-go/troupe/observe"
)

func TestFailureIDText(t *testing.T) {
	cases := []struct {
		id   observe.FailureID
		text string
	}{{0, ""}, {1, "f00000001"}, {0xabcdef123, "fabcdef123"}}
	for _, c := range cases {
		if got := c.id.String(); got != c.text {
			t.Errorf("%d.String(): got %q; want %q", uint64(c.id), got, c.text)
		}
		b, _ := json.Marshal(struct{ ID observe.FailureID }{c.id})
		var back struct{ ID observe.FailureID }
		if err := json.Unmarshal(b, &back); err != nil || back.ID != c.id {
			t.Errorf("JSON round trip of %v: got %v, %v", c.id, back.ID, err)
		}
	}
	var id observe.FailureID
	if err := id.UnmarshalText([]byte("x12")); err == nil {
		t.Error(`UnmarshalText("x12"): got nil; want an error`)
	}
}

// TestMetricNames checks the canonical table against the naming rules
// both exporters rely on: OTel names carry no "total" and counters map to
// a Prometheus name ending in _total; units in seconds end in _seconds.
func TestMetricNames(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range observe.Metrics {
		if seen[m.Name] {
			t.Errorf("%s listed twice", m.Name)
		}
		seen[m.Name] = true
		want := strings.ReplaceAll(m.Name, ".", "_")
		if m.Unit == "s" {
			want += "_seconds"
		}
		if m.Instrument == observe.Counter {
			want += "_total"
		}
		if m.PromName != want {
			t.Errorf("%s: Prometheus name %q; want %q", m.Name, m.PromName, want)
		}
		if strings.Contains(m.Name, "total") {
			t.Errorf("%s: an OTel name must not say total", m.Name)
		}
	}
	if len(observe.Metrics) != 27 {
		t.Errorf("got %d metrics; want the 27 of OBSERVABILITY.md §b.2", len(observe.Metrics))
	}
}
