package pipeline_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/troupe-go/troupe/pipeline"
	"github.com/troupe-go/troupe/strategy"
)

func fieldInt(e observer.LoggedEntry, key string) (int64, bool) {
	for _, f := range e.Context {
		if f.Key == key {
			return f.Integer, true
		}
	}
	return 0, false
}

func fieldString(e observer.LoggedEntry, key string) string {
	for _, f := range e.Context {
		if f.Key == key {
			if f.Type == zapcore.StringerType {
				return f.Interface.(interface{ String() string }).String()
			}
			return f.String
		}
	}
	return ""
}

// 191 poison items with a production-level logger: the first is logged at
// once (Warn, with pipeline, stage, error.type and attempts), the rest
// are rate-limited into a suppressed count that a last line reports, and
// a summary line at the end counts them all.
func TestLogsPoisonRateLimited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 191
		core, logs := observer.New(zap.DebugLevel)
		p := pipeline.New(pipeline.WithName("lines"), pipeline.WithLogger(zap.New(core)))
		m := pipeline.Map(pipeline.FromSlice(p, "src", ints(n)), "parse", func(_ context.Context, v int) (int, error) {
			return 0, errors.New("bad line")
		}, pipeline.WithRetry(2, strategy.Backoff{}))
		pipeline.Collect(m, "out")
		if err := p.Run(context.Background()); err != nil { // synctest reports a deadlock
			t.Fatal(err)
		}
		items := logs.FilterMessage("pipeline: item dead-lettered").All()
		if len(items) != 1 { // the fake clock does not move: one line
			t.Fatalf("%d item lines, want 1: %v", len(items), logs.All())
		}
		first := items[0]
		if first.Level != zapcore.WarnLevel || fieldString(first, "pipeline") != "lines" || fieldString(first, "stage") != "parse" ||
			fieldString(first, "error.type") != "error" || fieldString(first, "reason") != "poison" {
			t.Errorf("item line: %v %v", first.Level, first.Context)
		}
		if a, _ := fieldInt(first, "attempts"); a != 2 {
			t.Errorf("attempts %d, want 2", a)
		}
		total := int64(0)
		for _, e := range append(items, logs.FilterMessage("pipeline: items dead-lettered").All()...) {
			s, _ := fieldInt(e, "suppressed")
			total += s
			if e.Message == "pipeline: item dead-lettered" {
				total++
			}
		}
		if total != n {
			t.Errorf("the dead-letter lines account for %d items, want %d", total, n)
		}
		if r := logs.FilterMessage("pipeline: attempt failed, retrying").FilterLevelExact(zapcore.DebugLevel).Len(); r != n {
			t.Errorf("%d retry lines at Debug, want %d", r, n)
		}
		sum := logs.FilterMessage("pipeline finished").All()
		if len(sum) != 1 || sum[0].Level != zapcore.InfoLevel {
			t.Fatalf("summary lines: %v", sum)
		}
		if d, _ := fieldInt(sum[0], "dead_lettered"); d != n {
			t.Errorf("summary: dead_lettered %d, want %d", d, n)
		}
		if r, _ := fieldInt(sum[0], "read"); r != n {
			t.Errorf("summary: read %d, want %d", r, n)
		}
		if s := fieldString(sum[0], "state"); s != "done" {
			t.Errorf("summary: state %q", s)
		}
	})
}

// A worker that panics is restarted (Info, with the failure ID), and an
// item whose last attempt panicked is logged with that failure ID.
func TestLogsWorkerRestartAndFailureID(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	p := pipeline.New(pipeline.WithLogger(zap.New(core)))
	m := pipeline.Map(pipeline.FromSlice(p, "src", ints(10)), "m", func(_ context.Context, v int) (int, error) {
		if v == 7 {
			panic("boom")
		}
		return v, nil
	}, pipeline.WithRetry(2, strategy.Backoff{}))
	pipeline.Collect(m, "out")
	if err := run(t, p); err != nil {
		t.Fatal(err)
	}
	restarts := logs.FilterMessage("pipeline: stage worker restarted").All()
	if len(restarts) != 2 {
		t.Fatalf("%d restart lines, want 2: %v", len(restarts), logs.All())
	}
	ids := map[string]bool{}
	for _, e := range restarts {
		id := fieldString(e, "failure_id")
		if e.Level != zapcore.InfoLevel || fieldString(e, "stage") != "m" || id == "" {
			t.Errorf("restart line: %v %v", e.Level, e.Context)
		}
		ids[id] = true
	}
	items := logs.FilterMessage("pipeline: item dead-lettered").All()
	if len(items) != 1 {
		t.Fatalf("%d item lines, want 1", len(items))
	}
	if id := fieldString(items[0], "failure_id"); !ids[id] || fieldString(items[0], "error.type") != "panic" {
		t.Errorf("item line: failure_id %q (restarts had %v), error.type %q", id, ids, fieldString(items[0], "error.type"))
	}
}

// A pipeline that fails says so at Error, naming the stage.
func TestLogsPipelineFailure(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	p := pipeline.New(pipeline.WithLogger(zap.New(core)))
	src := pipeline.FromFunc(p, "src", func(ctx context.Context, emit func(int) error) error {
		return errors.New("disk gone")
	})
	pipeline.Collect(src, "out")
	if err := run(t, p); err == nil {
		t.Fatal("no error")
	}
	fails := logs.FilterMessage("pipeline failed").All()
	if len(fails) != 1 || fails[0].Level != zapcore.ErrorLevel || fieldString(fails[0], "stage") != "src" {
		t.Fatalf("failure lines: %v", logs.All())
	}
	if s := logs.FilterMessage("pipeline finished").All(); len(s) != 1 || fieldString(s[0], "state") != "failed" {
		t.Errorf("summary: %v", s)
	}
}
