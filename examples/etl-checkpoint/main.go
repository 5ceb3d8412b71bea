// Etl-checkpoint: a batch load that is killed half-way and resumes from
// its checkpoint, without gaps or torn rows and with bounded
// reprocessing.
//
// The input is a CSV file, one row "id,amount,name" per line, read by
// FromLines: positions are byte offsets, and a line's next position is
// the offset just after its line end, so a checkpoint is always where a
// line starts. A FileCheckpointer keeps the offset in a temporary
// directory. A Map parses each line and a sink upserts the row into an
// in-memory table keyed by id. The first run is killed after 37 rows:
// the loader cancels the run's context and writes nothing more. As it
// stops, the pipeline commits its low watermark, the offset where the
// oldest row not yet loaded starts, at the granularity of a source batch
// (here 10 lines). The second run reads from there; the rows it loads
// again were loaded by the first run, and the upsert makes that harmless.
// (Each stage has one worker, so rows are loaded in input order; with
// more, the checkpoint still leaves no gap behind it, but can lag
// further.)
//
// A third run, after the complete one, reads nothing: the checkpoint is
// the file's size. (Had it been the last line's offset + 1, the third
// run would read "9,8,customer-99", one byte into "99,8,customer-99",
// which parses, and overwrite row 9.)
//
// What to copy: FromLines (or FromResumable with an open that starts at
// from and emits each item with where the next one starts), an
// idempotent sink, and context.Canceled from Run taken as the kill. A
// process that really dies skips the final commit; it then restarts from
// the last periodic one (WithCheckpointEvery) and reprocesses more.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/troupe-go/troupe/pipeline"
)

const (
	lines     = 100 // input size
	batch     = 10  // pipeline batch size: the checkpoint's granularity
	killAfter = 37  // rows the first run loads before it is killed
)

// Row is one row of the table.
type Row struct {
	ID     int
	Name   string
	Amount int
}

// input returns the CSV lines "id,amount,name": line i holds the row
// with id i.
func input() []string {
	out := make([]string, lines)
	for i := range out {
		out[i] = fmt.Sprintf("%d,%d,customer-%02d", i, i*3%17, i)
	}
	return out
}

// writeInput writes the lines to a file in dir and returns its path and
// the byte offset where each line starts (the last entry is the size).
func writeInput(dir string, src []string) (path string, starts []uint64, err error) {
	var b strings.Builder
	for _, l := range src {
		starts = append(starts, uint64(b.Len()))
		b.WriteString(l + "\n")
	}
	starts = append(starts, uint64(b.Len()))
	path = filepath.Join(dir, "orders.csv")
	return path, starts, os.WriteFile(path, []byte(b.String()), 0o600)
}

func parse(_ context.Context, line string) (r Row, err error) {
	_, err = fmt.Sscanf(line, "%d,%d,%s", &r.ID, &r.Amount, &r.Name)
	return r, err
}

// Table is the load target: rows by id, with an idempotent upsert. One
// goroutine at a time uses it: a sink has one worker, runs are sequential.
type Table struct {
	rows    map[int]Row
	repeats int // upserts of a row already present
	changed int // upserts that changed a present row
}

func (t *Table) upsert(r Row) {
	if old, ok := t.rows[r.ID]; ok {
		t.repeats++
		if old != r {
			t.changed++
		}
	}
	t.rows[r.ID] = r
}

// Load is what one run did.
type Load struct {
	From, Checkpoint uint64 // byte offset it started from, byte offset committed when it stopped
	Rows             int    // rows it upserted
	Err              error  // what Run returned
}

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "etl-checkpoint:", err)
		os.Exit(1)
	}
}

func run(w io.Writer) error {
	dir, err := os.MkdirTemp("", "etl-checkpoint")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path, starts, err := writeInput(dir, input())
	if err != nil {
		return err
	}
	cp := pipeline.NewFileCheckpointer(filepath.Join(dir, "orders.pos"))
	tbl := &Table{rows: map[int]Row{}}
	line := func(off uint64) int { // the line starting at byte off
		for i, s := range starts {
			if s >= off {
				return i
			}
		}
		return len(starts)
	}

	for i, kill := range []int{killAfter, 0, 0} {
		l := load(cp, path, tbl, kill)
		if l.Err != nil && !(kill > 0 && errors.Is(l.Err, context.Canceled)) {
			return fmt.Errorf("run %d: %w", i+1, l.Err)
		}
		fmt.Fprintf(w, "run %d: from byte %4d (line %3d), loaded %2d rows, stopped with %v; checkpoint byte %d (line %d)\n",
			i+1, l.From, line(l.From), l.Rows, l.Err, l.Checkpoint, line(l.Checkpoint))
	}
	// The ids are 0 to lines-1: every id not in the table is a gap.
	fmt.Fprintf(w, "table: %d rows, %d missing ids, %d rows loaded twice (%d changed by it)\n",
		len(tbl.rows), lines-len(tbl.rows), tbl.repeats, tbl.changed)
	return nil
}

// load runs the ETL pipeline once over the file at path, from cp's
// position. With kill > 0 the loader cancels the run after kill rows and
// writes nothing more.
func load(cp pipeline.Checkpointer, path string, tbl *Table, kill int) (l Load) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if pos, ok, err := cp.Load(ctx); err != nil {
		return Load{Err: err}
	} else if ok {
		l.From = pos
	}
	p := pipeline.New(pipeline.WithBatchSize(batch), pipeline.WithCheckpointEvery(5*time.Millisecond))
	csv := pipeline.FromLines(p, "orders.csv", path, cp)
	rows := pipeline.Map(csv, "parse", parse)
	pipeline.ToFunc(rows, "upsert", func(ctx context.Context, r Row) error {
		if kill > 0 && l.Rows == kill {
			// Simulated kill: the run is cancelled and this row is never
			// written. The pipeline dead-letters it as stopped, which does
			// not count as done: the checkpoint stays before it.
			cancel()
			<-ctx.Done()
			return ctx.Err()
		}
		tbl.upsert(r)
		l.Rows++
		return nil
	})
	l.Err = p.Run(ctx)
	pos, _, err := cp.Load(context.Background())
	if err != nil && l.Err == nil {
		l.Err = err
	}
	l.Checkpoint = pos
	return l
}
