package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/troupe-go/troupe/pipeline"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	for _, want := range []string{
		fmt.Sprintf("run 1: from line   0, loaded %d rows, stopped with context canceled; checkpoint ", killAfter),
		fmt.Sprintf("; checkpoint %d\ntable: %d rows, 0 missing ids, ", lines, lines),
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

// TestResume kills a load, resumes it and checks the checkpoint: no row
// is skipped, and the second run redoes fewer rows than one batch.
func TestResume(t *testing.T) {
	cp := pipeline.NewFileCheckpointer(filepath.Join(t.TempDir(), "orders.pos"))
	tbl := &Table{rows: map[int]Row{}}
	src := input()

	first := load(cp, src, tbl, killAfter)
	if !errors.Is(first.Err, context.Canceled) || first.From != 0 || first.Rows != killAfter {
		t.Fatalf("run 1 = %+v; want from 0, %d rows, context.Canceled", first, killAfter)
	}
	// No gap: every line before the checkpoint was loaded (the first run
	// loaded lines 0 to killAfter-1, in order). Bounded reprocessing:
	// the checkpoint is within one batch of the first line not loaded.
	if c := first.Checkpoint; c > killAfter || killAfter-c >= batch {
		t.Errorf("checkpoint after the kill = %d, want in (%d, %d]", c, killAfter-batch, killAfter)
	}

	second := load(cp, src, tbl, 0)
	if second.Err != nil {
		t.Fatal(second.Err)
	}
	if second.From != first.Checkpoint || second.Rows != lines-int(first.Checkpoint) || second.Checkpoint != lines {
		t.Errorf("run 2 = %+v; want from %d, %d rows, checkpoint %d", second, first.Checkpoint, lines-int(first.Checkpoint), lines)
	}
	reprocessed := first.Rows + second.Rows - lines
	if tbl.repeats != reprocessed || tbl.changed != 0 {
		t.Errorf("%d repeated upserts, %d changed rows; want %d repeats, none changed", tbl.repeats, tbl.changed, reprocessed)
	}
	if len(tbl.rows) != lines {
		t.Errorf("table has %d rows, want %d", len(tbl.rows), lines)
	}
	for _, line := range src {
		want, _ := parse(context.Background(), line)
		if got := tbl.rows[want.ID]; got != want {
			t.Errorf("row %d = %+v, want %+v", want.ID, got, want)
		}
	}
}
