package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
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
	size := 0
	for _, l := range input() {
		size += len(l) + 1
	}
	for _, want := range []string{
		fmt.Sprintf("run 1: from byte    0 (line   0), loaded %d rows, stopped with context canceled; checkpoint ", killAfter),
		fmt.Sprintf("(line %d)\nrun 3: ", lines),
		fmt.Sprintf("loaded  0 rows, stopped with <nil>; checkpoint byte %d (line %d)\ntable: %d rows, 0 missing ids, ", size, lines, lines),
		"(0 changed by it)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

// TestResume kills a load, resumes it and checks the checkpoint: it is
// the byte offset where a line starts, no row is skipped or torn, the
// second run redoes fewer rows than one batch, and a third run after the
// complete one loads nothing.
func TestResume(t *testing.T) {
	dir := t.TempDir()
	src := input()
	path, starts, err := writeInput(dir, src)
	if err != nil {
		t.Fatal(err)
	}
	cp := pipeline.NewFileCheckpointer(filepath.Join(dir, "orders.pos"))
	tbl := &Table{rows: map[int]Row{}}
	line := func(off uint64) int {
		i, ok := slices.BinarySearch(starts, off)
		if !ok {
			t.Fatalf("checkpoint %d is inside a line", off)
		}
		return i
	}

	first := load(cp, path, tbl, killAfter)
	if !errors.Is(first.Err, context.Canceled) || first.From != 0 || first.Rows != killAfter {
		t.Fatalf("run 1 = %+v; want from 0, %d rows, context.Canceled", first, killAfter)
	}
	// No gap: every line before the checkpoint was loaded (the first run
	// loaded lines 0 to killAfter-1, in order). Bounded reprocessing:
	// the checkpoint is within one batch of the first line not loaded.
	c := line(first.Checkpoint)
	if c > killAfter || killAfter-c >= batch {
		t.Errorf("checkpoint after the kill at line %d, want in (%d, %d]", c, killAfter-batch, killAfter)
	}

	second := load(cp, path, tbl, 0)
	if second.Err != nil {
		t.Fatal(second.Err)
	}
	if second.From != first.Checkpoint || second.Rows != lines-c || second.Checkpoint != starts[lines] {
		t.Errorf("run 2 = %+v; want from %d, %d rows, checkpoint %d", second, first.Checkpoint, lines-c, starts[lines])
	}
	third := load(cp, path, tbl, 0)
	if third.Err != nil || third.Rows != 0 || third.From != starts[lines] || third.Checkpoint != starts[lines] {
		t.Errorf("run 3 after a complete load = %+v; want no rows, from and checkpoint %d", third, starts[lines])
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
