//go:build unix

package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/troupe-go/troupe/pipeline"
)

// killChildEnv switches the test binary into the child of
// TestFromLinesResumeAfterSIGKILL; its value is "in,ckpt,out,workers,blockAt".
const killChildEnv = "TROUPE_TEST_FROMLINES_CHILD"

const killBatch = 16

// TestFromLinesResumeAfterSIGKILL runs FromLines in a child process (this
// test binary again) whose sink appends each line to an output file,
// SIGKILLs it mid-run once a checkpoint is committed, and resumes in
// process from the checkpoint file the child left.
//
// What the test can assert: the child's write(2) of a done line returned
// before the line counted as done, so every line before the checkpoint
// is in the output file (the page cache survives SIGKILL; no fsync is
// needed for that). The checkpoint file is whole (temporary file and
// rename) and at least the last position the child reported saved. A
// line the child was writing when killed may be cut; it is not covered
// by the checkpoint.
//
//   - running: four map workers, killed at the first commit past 0 while
//     the child reads at full speed. No gap, no torn record, and only
//     lines at or after the checkpoint are redone (those the child did
//     after it or ahead of it).
//   - blocked: one worker per stage, the sink blocks at line k, killed
//     once a commit reaches the batch holding k. Lines are done in order,
//     so fewer than a batch (15) are redone.
func TestFromLinesResumeAfterSIGKILL(t *testing.T) {
	if env := os.Getenv(killChildEnv); env != "" {
		killChild(env)
		return
	}
	const n, k = 20000, 5003
	path, lines, starts := lineFile(t, n, false)
	cases := []struct {
		name    string
		workers int
		blockAt int
		kill    func(saved uint64) bool
	}{
		{"running", 4, n - 1, func(saved uint64) bool { return saved > 0 }},
		{"blocked", 1, k, func(saved uint64) bool { return saved >= starts[k-killBatch+1] }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ckpt, out := filepath.Join(dir, "ckpt"), filepath.Join(dir, "out")
			reported := killLinesChild(t, fmt.Sprintf("%s,%s,%s,%d,%d", path, ckpt, out, tc.workers, tc.blockAt), tc.kill)

			cp := pipeline.NewFileCheckpointer(ckpt)
			pos := loadCP(t, cp)
			if pos < reported {
				t.Fatalf("checkpoint %d is behind the position %d the child reported saved", pos, reported)
			}
			c := lineIndex(t, starts, pos)

			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			written := strings.Split(string(data), "\n")
			if cut := written[len(written)-1]; cut != "" {
				t.Logf("the child was killed writing %q", cut)
			}
			written = written[:len(written)-1]
			index := make(map[string]int, n)
			for i, l := range lines {
				index[l] = i
			}
			done := make([]bool, n)
			for _, l := range written {
				i, ok := index[l]
				if !ok || done[i] {
					t.Fatalf("the child wrote %q: not a line of the input, or twice", l)
				}
				done[i] = true
			}
			for i := range c {
				if !done[i] {
					t.Fatalf("gap: line %d is before the checkpoint (line %d) but the child did not write it", i, c)
				}
			}

			resumed, err := readLines(t, path, cp)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(resumed, lines[c:]) {
				t.Fatalf("resume from line %d emitted %d lines, want exactly lines[%d:] (%d)", c, len(resumed), c, n-c)
			}
			reprocessed := 0
			for i := c; i < n; i++ {
				if done[i] {
					reprocessed++
				}
			}
			// The bound is what is promised: the checkpoint is not past the
			// blocked line and less than a batch is redone. (How many of the
			// lines before the blocked one reached the output file before the
			// kill varies from run to run.)
			if tc.name == "blocked" && (c > k || reprocessed > k-c || reprocessed >= killBatch) {
				t.Fatalf("blocked at line %d: checkpoint at line %d, %d reprocessed; want at most %d", k, c, reprocessed, killBatch-1)
			}
			if pos := loadCP(t, cp); pos != starts[n] {
				t.Fatalf("final checkpoint %d, want the size %d", pos, starts[n])
			}
			t.Logf("child wrote %d lines, checkpoint at line %d, %d reprocessed", len(written), c, reprocessed)
		})
	}
}

// killLinesChild starts the child with env, SIGKILLs it as soon as it
// reports a saved position for which kill is true, and returns the last
// position it reported saved.
func killLinesChild(t *testing.T, env string, kill func(saved uint64) bool) uint64 {
	t.Helper()
	return killChildEnvRun(t, "^TestFromLinesResumeAfterSIGKILL$", killChildEnv, env, kill)
}

// reportCP reports each position it saved on w, after the save.
type reportCP struct {
	*pipeline.FileCheckpointer
	w io.Writer
}

func (c reportCP) Save(ctx context.Context, pos uint64) error {
	if err := c.FileCheckpointer.Save(ctx, pos); err != nil {
		return err
	}
	_, err := fmt.Fprintf(c.w, "saved %d\n", pos)
	return err
}

// killChild is the child process: it never returns, it is killed.
func killChild(env string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	args := strings.Split(env, ",")
	if len(args) != 5 {
		fail(fmt.Errorf("bad %s=%q", killChildEnv, env))
	}
	in, ckpt, outPath := args[0], args[1], args[2]
	workers, err1 := strconv.Atoi(args[3])
	blockAt, err2 := strconv.Atoi(args[4])
	if err := errors.Join(err1, err2); err != nil {
		fail(err)
	}
	out, err := os.OpenFile(outPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		fail(err)
	}
	cp := reportCP{pipeline.NewFileCheckpointer(ckpt), os.NewFile(3, "progress")}
	p := pipeline.New(pipeline.WithBatchSize(killBatch), pipeline.WithCheckpointEvery(time.Millisecond))
	src := pipeline.FromLines(p, "lines", in, cp)
	work := pipeline.Map(src, "work", func(_ context.Context, l string) (string, error) { return l, nil },
		pipeline.WithWorkers(workers), pipeline.WithBuffer(4*killBatch))
	n := 0
	pipeline.ToFunc(work, "sink", func(_ context.Context, l string) error {
		if n == blockAt {
			_, _ = io.Copy(io.Discard, os.Stdin) // until the parent kills us
			fail(errors.New("stdin closed before the kill"))
		}
		n++
		_, err := out.WriteString(l + "\n") // one write(2) per line
		return err
	}, pipeline.WithBuffer(4*killBatch))
	fail(fmt.Errorf("run ended: %v", p.Run(context.Background())))
}
