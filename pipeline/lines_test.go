package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/troupe-go/troupe/pipeline"
)

// lineFile writes n lines of different lengths ("00042,kkk…") to a new
// file, the last one without a line end unless lastLF, and returns the
// path, the lines and where each starts (starts[n] is the file's size).
func lineFile(t *testing.T, n int, lastLF bool) (path string, lines []string, starts []uint64) {
	t.Helper()
	var b strings.Builder
	for i := range n {
		l := fmt.Sprintf("%05d,%s", i, strings.Repeat(string(rune('a'+i%26)), i*7%61))
		lines = append(lines, l)
		starts = append(starts, uint64(b.Len()))
		b.WriteString(l)
		if i < n-1 || lastLF {
			b.WriteByte('\n')
		}
	}
	starts = append(starts, uint64(b.Len()))
	path = filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, lines, starts
}

// lineIndex returns the index of the line starting at offset pos, or
// fails the test: a checkpoint must be the start of a line (or the size).
func lineIndex(t *testing.T, starts []uint64, pos uint64) int {
	t.Helper()
	i, ok := slices.BinarySearch(starts, pos)
	if !ok {
		t.Fatalf("checkpoint %d is inside a line", pos)
	}
	return i
}

// readLines runs FromLines over path once, with cp, and returns what
// reached the sink and Run's error.
func readLines(t *testing.T, path string, cp pipeline.Checkpointer) ([]string, error) {
	t.Helper()
	p := pipeline.New(pipeline.WithBatchSize(4))
	out := pipeline.Collect(pipeline.FromLines(p, "lines", path, cp), "out")
	err := run(t, p)
	return out.Items(), err
}

func loadCP(t *testing.T, cp pipeline.Checkpointer) uint64 {
	t.Helper()
	pos, ok, err := cp.Load(context.Background())
	if !ok || err != nil {
		t.Fatalf("no checkpoint: %v %v", ok, err)
	}
	return pos
}

// A complete run commits the size of the file, and a run from there
// emits nothing; lines appended later are read, and only they. Before
// byte offsets were next positions, the second run read "harlie,333"
// (the commit was the last line's offset + 1).
func TestFromLinesCompleteRun(t *testing.T) {
	cases := []struct {
		name, text string
		want       []string
	}{
		{"lf", "alpha,1\nbravo,22\ncharlie,333\n", []string{"alpha,1", "bravo,22", "charlie,333"}},
		{"no final line end", "alpha,1\nbravo,22\ncharlie,333", []string{"alpha,1", "bravo,22", "charlie,333"}},
		{"crlf", "alpha,1\r\nbravo,22\r\n", []string{"alpha,1", "bravo,22"}},
		{"empty lines", "\n\nx\n\n", []string{"", "", "x", ""}},
		{"one line", "only", []string{"only"}},
		{"empty file", "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "in.txt")
			if err := os.WriteFile(path, []byte(tc.text), 0o600); err != nil {
				t.Fatal(err)
			}
			cp := pipeline.NewFileCheckpointer(filepath.Join(dir, "ckpt"))
			got, err := readLines(t, path, cp)
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("first run = %q, %v; want %q", got, err, tc.want)
			}
			if pos := loadCP(t, cp); pos != uint64(len(tc.text)) {
				t.Fatalf("checkpoint after a complete run = %d, want the size %d", pos, len(tc.text))
			}
			got, err = readLines(t, path, cp)
			if err != nil || len(got) != 0 {
				t.Fatalf("resume after a complete run = %q, %v; want nothing", got, err)
			}
			if pos := loadCP(t, cp); pos != uint64(len(tc.text)) {
				t.Fatalf("checkpoint after the resume = %d, want %d", pos, len(tc.text))
			}
			if !strings.HasSuffix(tc.text, "\n") {
				return
			}
			f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.WriteString("delta,4444\necho,55555\n")
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err = readLines(t, path, cp)
			if want := []string{"delta,4444", "echo,55555"}; err != nil || !slices.Equal(got, want) {
				t.Fatalf("run after an append = %q, %v; want %q", got, err, want)
			}
		})
	}
}

// A checkpoint that does not fit the file fails the source with
// ErrPosition rather than reading from inside a line.
func TestFromLinesBadCheckpoint(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "in.txt")
	const text = "alpha,1\nbravo,22\ncharlie,333\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, pos := range []uint64{1, 9, 8 + 9 + 1, uint64(len(text)) + 1, 1 << 63} {
		cp := pipeline.NewFileCheckpointer(filepath.Join(dir, fmt.Sprint("ckpt", pos)))
		if err := cp.Save(context.Background(), pos); err != nil {
			t.Fatal(err)
		}
		got, err := readLines(t, path, cp)
		var se *pipeline.StageError
		if !errors.Is(err, pipeline.ErrPosition) || !errors.As(err, &se) || se.Stage != "lines" || len(got) != 0 {
			t.Errorf("checkpoint %d: got %q, %v; want nothing and a StageError for \"lines\" wrapping ErrPosition", pos, got, err)
		}
	}
	// A line start and the end of the file are fine.
	for _, pos := range []uint64{0, 8, uint64(len(text))} {
		cp := pipeline.NewFileCheckpointer(filepath.Join(dir, fmt.Sprint("ok", pos)))
		if err := cp.Save(context.Background(), pos); err != nil {
			t.Fatal(err)
		}
		var want []string
		if rest := text[pos:]; rest != "" {
			want = strings.Split(strings.TrimSuffix(rest, "\n"), "\n")
		}
		if got, err := readLines(t, path, cp); err != nil || !slices.Equal(got, want) {
			t.Errorf("checkpoint %d: got %q, %v; want %q", pos, got, err, want)
		}
	}

	cp := pipeline.NewFileCheckpointer(filepath.Join(dir, "missing-ckpt"))
	if _, err := readLines(t, filepath.Join(dir, "missing"), cp); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
	for _, tc := range []struct {
		path string
		cp   pipeline.Checkpointer
	}{{"", cp}, {path, nil}} {
		p := pipeline.New()
		pipeline.Collect(pipeline.FromLines(p, "lines", tc.path, tc.cp), "out")
		if err := p.Run(testCtx(t)); !errors.Is(err, pipeline.ErrInvalid) {
			t.Errorf("FromLines(%q, %v): %v, want ErrInvalid", tc.path, tc.cp, err)
		}
	}
}

// TestFromLinesResumeAfterCancel cancels a run after kill lines reached
// the sink and resumes it from its checkpoint. No gap, no torn record:
// the two runs' lines, compared whole, cover the file, and the resume
// emits exactly the lines from the checkpoint on. Bounded reprocessing:
// with one worker per stage lines are done in order, so the committed
// position is the start of the source batch holding the first line not
// done, and fewer than a batch (batch-1 = 15) lines are done twice. With
// four workers the lines are done out of order; the checkpoint still has
// no done-line gap behind it, and only lines after it are redone.
func TestFromLinesResumeAfterCancel(t *testing.T) {
	const n, batch = 3000, 16
	path, lines, starts := lineFile(t, n, false)
	for _, workers := range []int{1, 4} {
		for _, kill := range []int{1, 700, 1601, n - 1} {
			t.Run(fmt.Sprintf("workers=%d/kill=%d", workers, kill), func(t *testing.T) {
				cp := pipeline.NewFileCheckpointer(filepath.Join(t.TempDir(), "ckpt"))
				first, err := cancelLines(t, path, cp, batch, workers, kill)
				if !errors.Is(err, context.Canceled) || len(first) != kill {
					t.Fatalf("first run: %d lines, %v; want %d, context.Canceled", len(first), err, kill)
				}
				done := map[string]int{}
				for _, l := range first {
					done[l]++
				}
				c := lineIndex(t, starts, loadCP(t, cp))
				for _, l := range lines[:c] {
					if done[l] != 1 {
						t.Fatalf("line %q is before the checkpoint (line %d) but was done %d times", l, c, done[l])
					}
				}
				if workers == 1 && (c > kill || kill-c >= batch) {
					t.Fatalf("in order, killed at line %d: checkpoint at line %d, want in (%d, %d]", kill, c, kill-batch, kill)
				}

				second, err := readLines(t, path, cp)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(second, lines[c:]) {
					t.Fatalf("resume from line %d emitted %d lines, want exactly lines[%d:] (%d)", c, len(second), c, n-c)
				}
				reprocessed := 0
				for _, l := range lines[c:] {
					reprocessed += done[l]
				}
				if workers == 1 && reprocessed != kill-c {
					t.Fatalf("reprocessed %d lines, want %d", reprocessed, kill-c)
				}
				if pos := loadCP(t, cp); pos != starts[n] {
					t.Fatalf("final checkpoint %d, want the size %d", pos, starts[n])
				}
				t.Logf("killed after %d lines, checkpoint at line %d, %d reprocessed", kill, c, reprocessed)
			})
		}
	}
}

// cancelLines runs path through a map with the given workers to a sink
// that cancels the run when kill lines are done, and returns those lines.
func cancelLines(t *testing.T, path string, cp pipeline.Checkpointer, batch, workers, kill int) ([]string, error) {
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	p := pipeline.New(pipeline.WithBatchSize(batch), pipeline.WithCheckpointEvery(time.Millisecond))
	src := pipeline.FromLines(p, "lines", path, cp)
	work := pipeline.Map(src, "work", func(_ context.Context, l string) (string, error) { return l, nil },
		pipeline.WithWorkers(workers), pipeline.WithBuffer(4*batch))
	var mu sync.Mutex
	var done []string
	pipeline.ToFunc(work, "sink", func(ctx context.Context, l string) error {
		mu.Lock()
		defer mu.Unlock()
		if len(done) == kill {
			cancel() // this line and the ones after it are not done
			<-ctx.Done()
			return ctx.Err()
		}
		done = append(done, l)
		return nil
	}, pipeline.WithBuffer(4*batch))
	if err := p.Start(ctx); err != nil {
		return nil, err
	}
	err := p.Wait(testCtx(t))
	mu.Lock()
	defer mu.Unlock()
	return done, err
}
