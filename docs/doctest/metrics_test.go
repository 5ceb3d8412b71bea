package doctest

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/troupe-go/troupe/observe"
)

var update = flag.Bool("update", false, "rewrite the generated metric table of docs/observability.md")

// The generated table of docs/observability.md sits between these lines.
const (
	metricsBegin = "<!-- metrics: generated from observe.Metrics; go test ./docs/doctest -run TestMetricTable -update rewrites it -->"
	metricsEnd   = "<!-- end of metrics -->"
)

// metricTable renders ms as the markdown table of docs/observability.md.
func metricTable(ms []observe.Metric) string {
	var b strings.Builder
	b.WriteString("| OTel name | Prometheus name | instrument | unit | attributes | default | what it counts |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	for _, m := range ms {
		attrs := make([]string, len(m.Attributes))
		for i, a := range m.Attributes {
			attrs[i] = "`" + a + "`"
		}
		def := "on"
		if m.OptIn {
			def = "opt-in"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | `%s` | %s | %s | %s |\n",
			m.Name, m.PromName, m.Instrument, m.Unit, strings.Join(attrs, ", "), def,
			strings.ReplaceAll(m.Description, "|", `\|`))
	}
	return b.String()
}

// TestMetricTable checks that the metric table of docs/observability.md
// is the one observe.Metrics gives, so the doc cannot drift from the
// names the adapters export. With -update it rewrites the table.
func TestMetricTable(t *testing.T) {
	file := filepath.Join(moduleRoot(t), "docs", "observability.md")
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	got, err := spliceTable(src, metricTable(observe.Metrics))
	if err != nil {
		t.Fatalf("docs/observability.md: %v", err)
	}
	if bytes.Equal(got, src) {
		return
	}
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("the metric table of docs/observability.md is not the one observe.Metrics gives; run go test ./docs/doctest -run TestMetricTable -update. Want:\n%s", metricTable(observe.Metrics))
}

// spliceTable returns src with the lines between metricsBegin and
// metricsEnd replaced by table.
func spliceTable(src []byte, table string) ([]byte, error) {
	s := string(src)
	i := strings.Index(s, metricsBegin+"\n")
	if i < 0 {
		return nil, fmt.Errorf("no line %q", metricsBegin)
	}
	start := i + len(metricsBegin) + 1
	j := strings.Index(s[start:], metricsEnd)
	if j < 0 || (j > 0 && s[start+j-1] != '\n') {
		return nil, fmt.Errorf("no line %q after %q", metricsEnd, metricsBegin)
	}
	return []byte(s[:start] + table + s[start+j:]), nil
}

// TestMetricTableCanFail: a doc whose table lacks a metric, or has a
// renamed one, is not the generated table; a doc without the markers is
// an error.
func TestMetricTableCanFail(t *testing.T) {
	ms := observe.Metrics
	doc := "# x\n\n" + metricsBegin + "\n" + metricTable(ms) + metricsEnd + "\n\ntext\n"
	if got, err := spliceTable([]byte(doc), metricTable(ms)); err != nil || string(got) != doc {
		t.Fatalf("the generated doc does not match itself: %v", err)
	}
	renamed := append([]observe.Metric(nil), ms...)
	renamed[0].PromName = "troupe_actor_spawned_total"
	for name, table := range map[string]string{"missing": metricTable(ms[1:]), "renamed": metricTable(renamed)} {
		stale := "# x\n\n" + metricsBegin + "\n" + table + metricsEnd + "\n\ntext\n"
		if got, err := spliceTable([]byte(stale), metricTable(ms)); err != nil || string(got) == stale || string(got) != doc {
			t.Errorf("%s metric: splice gave err %v, changed %v; want the generated doc", name, err, string(got) != stale)
		}
	}
	if _, err := spliceTable([]byte("# no table\n"), metricTable(ms)); err == nil {
		t.Error("a doc without the markers: got nil error")
	}
	if _, err := spliceTable([]byte(metricsBegin+"\n| a |\n"), metricTable(ms)); err == nil {
		t.Error("a doc without the end marker: got nil error")
	}
}
