//go:build unix

package pipeline_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/troupe-go/troupe/pipeline"
)

// stateKillEnv switches the test binary into the child of
// TestKeyedStateResumeAfterSIGKILL; its value is "in,ckpt,out,blockAt".
const stateKillEnv = "TROUPE_TEST_KEYED_STATE_CHILD"

// TestKeyedStateResumeAfterSIGKILL runs a keyed aggregation over the
// lines of a file in a child process (this test binary again), with a
// FileCheckpointer keeping the position and the per-key totals; it
// SIGKILLs the child as soon as it reports a checkpoint past a quarter
// of the file (the child is then folding the lines after it), and resumes in process
// from the file the child left. The totals the resumed run emits are
// exactly those of an uninterrupted run: no line lost, none counted
// twice, though the child had folded lines past the checkpoint. The
// child emits nothing (it flushes at the end of stream only), and a line
// near the end blocks its parser, so the kill always comes mid-run.
func TestKeyedStateResumeAfterSIGKILL(t *testing.T) {
	if env := os.Getenv(stateKillEnv); env != "" {
		stateKillChild(env)
		return
	}
	const n, keys = 20000, 41
	var b strings.Builder
	var starts []uint64
	for i := range n {
		starts = append(starts, uint64(b.Len()))
		fmt.Fprintf(&b, "%d %d\n", i%keys, i)
	}
	starts = append(starts, uint64(b.Len()))
	dir := t.TempDir()
	in, ckpt, out := filepath.Join(dir, "in"), filepath.Join(dir, "ckpt"), filepath.Join(dir, "out")
	if err := os.WriteFile(in, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	reported := killChildEnvRun(t, "^TestKeyedStateResumeAfterSIGKILL$", stateKillEnv,
		fmt.Sprintf("%s,%s,%s,%d", in, ckpt, out, n-100), func(saved uint64) bool { return saved >= starts[n/4] })

	cp := pipeline.NewFileCheckpointer(ckpt)
	c, ok, err := cp.LoadCheckpoint(context.Background())
	if !ok || err != nil || c.Pos < reported || c.Pos == 0 || len(c.State) != 1 {
		t.Fatalf("checkpoint %+v %v %v after the child reported %d saved", c.Pos, ok, err, reported)
	}
	from := lineIndex(t, starts, c.Pos)
	if data, err := os.ReadFile(out); err != nil || len(data) != 0 {
		t.Fatalf("the child emitted %q (%v); it must not have reached its end", data, err)
	}

	p := pipeline.New(pipeline.WithCheckpointEvery(time.Millisecond))
	totals := pipeline.Collect(stateKillPipeline(p, in, cp, -1), "out")
	if err := run(t, p); err != nil {
		t.Fatal(err)
	}
	if read := stats(t, p, "lines").Out; read != uint64(n-from) {
		t.Fatalf("the resumed run read %d lines, want %d (from line %d)", read, n-from, from)
	}
	checkTotals(t, collectTotals(totals.Items()), n, keys)
	if c, _, _ := cp.LoadCheckpoint(context.Background()); c.Pos != starts[n] || len(c.State) != 0 {
		t.Errorf("final checkpoint %d with %d states, want %d and none", c.Pos, len(c.State), starts[n])
	}
	t.Logf("killed after a checkpoint at line %d; resumed from there", from)
}

// stateKillPipeline is the aggregation of both runs: lines "KEY VALUE",
// parsed by two workers, summed by key over three. The parser blocks at
// line blockAt (if >= 0) until its stdin closes.
func stateKillPipeline(p *pipeline.Pipeline, in string, cp pipeline.Checkpointer, blockAt int) *pipeline.Stream[total] {
	lines := pipeline.FromLines(p, "lines", in, cp)
	parsed := pipeline.Map(lines, "parse", func(_ context.Context, l string) (int, error) {
		k, v, _ := strings.Cut(l, " ")
		_, err := strconv.Atoi(k)
		if err != nil {
			return 0, err
		}
		i, err := strconv.Atoi(v)
		if i == blockAt {
			_, _ = io.Copy(io.Discard, os.Stdin) // until the parent kills us
		}
		return i, err
	}, pipeline.WithWorkers(2))
	return pipeline.Keyed(parsed, "sum", sumSpec(41, nil), pipeline.WithWorkers(3))
}

// stateReportCP reports each checkpoint it saved on w, after the save.
type stateReportCP struct {
	*pipeline.FileCheckpointer
	w io.Writer
}

func (c stateReportCP) SaveCheckpoint(ctx context.Context, cp pipeline.Checkpoint) error {
	if err := c.FileCheckpointer.SaveCheckpoint(ctx, cp); err != nil {
		return err
	}
	_, err := fmt.Fprintf(c.w, "saved %d\n", cp.Pos)
	return err
}

// stateKillChild is the child process: it never returns, it is killed.
func stateKillChild(env string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	args := strings.Split(env, ",")
	if len(args) != 4 {
		fail(fmt.Errorf("bad %s=%q", stateKillEnv, env))
	}
	blockAt, err := strconv.Atoi(args[3])
	if err != nil {
		fail(err)
	}
	out, err := os.OpenFile(args[2], os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		fail(err)
	}
	cp := stateReportCP{pipeline.NewFileCheckpointer(args[1]), os.NewFile(3, "progress")}
	p := pipeline.New(pipeline.WithCheckpointEvery(time.Millisecond))
	pipeline.ToFunc(stateKillPipeline(p, args[0], cp, blockAt), "out", func(_ context.Context, x total) error {
		_, err := fmt.Fprintf(out, "%d %d %d\n", x.Key, x.Sum, x.N)
		return err
	})
	fail(errors.Join(errors.New("run ended"), p.Run(context.Background())))
}

// killChildEnvRun starts this test binary running test with env=val,
// SIGKILLs it as soon as it reports (on fd 3, "saved POS" lines) a saved
// position for which kill is true, and returns the last position it
// reported saved. The child blocks on its stdin, which is never written:
// it ends when killed, or when this end closes.
func killChildEnvRun(t *testing.T, test, env, val string, kill func(saved uint64) bool) uint64 {
	t.Helper()
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run="+test, "-test.count=1")
	cmd.Env = append(os.Environ(), env+"="+val)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	cmd.ExtraFiles = []*os.File{pw}
	err = cmd.Start()
	pw.Close()
	if err != nil {
		t.Fatal(err)
	}
	var last uint64
	killed := false
	sc := bufio.NewScanner(pr)
	for sc.Scan() { // until the child is gone: EOF on the pipe
		s, ok := strings.CutPrefix(sc.Text(), "saved ")
		if !ok {
			continue
		}
		pos, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("child reported %q", sc.Text())
		}
		last = pos
		if !killed && kill(pos) {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !killed || !errors.As(err, &ee) {
		t.Fatalf("child ended before the kill: %v\n%s", err, stderr.Bytes())
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v\n%s", err, stderr.Bytes())
	}
	return last
}
