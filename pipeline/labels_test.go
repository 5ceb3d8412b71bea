package pipeline_test

import (
	"bytes"
	"context"
	"runtime/pprof"
	"strings"
	"testing"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/pipeline"
)

// TestProfilerLabels checks that under actor.WithProfilerLabels a stage's
// workers run its function under the troupe.pipeline and troupe.stage
// labels, and that without it they run unlabelled.
func TestProfilerLabels(t *testing.T) {
	for _, on := range []bool{true, false} {
		opts := []pipeline.Option{pipeline.WithName("orders")}
		if on {
			opts = append(opts, pipeline.WithActorOptions(actor.WithProfilerLabels()))
		}
		p := pipeline.New(opts...)
		seen := make(chan map[string]string, 1)
		m := pipeline.Map(pipeline.FromSlice(p, "src", []int{1}), "price", func(_ context.Context, v int) (int, error) {
			seen <- goroutineLabels()
			return v, nil
		})
		pipeline.Collect(m, "out")
		mustRun(t, p)
		got := <-seen
		if on && (got["troupe.pipeline"] != "orders" || got["troupe.stage"] != "price") {
			t.Errorf("labels on: the stage ran under %v; want troupe.pipeline=orders, troupe.stage=price", got)
		}
		if !on && len(got) != 0 {
			t.Errorf("labels off: the stage ran under %v; want none", got)
		}
	}
}

// goroutineLabels returns the pprof labels of the calling goroutine, as a
// goroutine profile records them.
func goroutineLabels() map[string]string {
	var buf bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
	out := map[string]string{}
	// debug=1 groups goroutines by stack; a group with labels prints
	// "# labels: {"k":"v", ...}" after its count line.
	for _, group := range strings.Split(buf.String(), "\n\n") {
		if !strings.Contains(group, "pipeline_test.goroutineLabels") {
			continue
		}
		for _, line := range strings.Split(group, "\n") {
			if rest, ok := strings.CutPrefix(line, "# labels: "); ok {
				for _, kv := range strings.Split(strings.Trim(rest, "{}"), ", ") {
					k, v, _ := strings.Cut(kv, ":")
					out[strings.Trim(k, `"`)] = strings.Trim(v, `"`)
				}
			}
		}
	}
	return out
}
