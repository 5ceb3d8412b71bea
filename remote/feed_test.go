package remote

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/pipeline"
)

// The consuming side of the feed tests: a child node process
// (childEnv=feed) that runs a pipeline FeedReader.Source → keyed sum
// (key ID%feedKeys) → sink. It prints "FOLDED id" when it folds item
// TROUPE_FEED_MARK, "TOTAL key count sum" for each key at the end of
// stream, and "DONE" once its pipeline ended cleanly.

const (
	feedAddrEnv = "TROUPE_FEED_ADDR"
	feedNameEnv = "TROUPE_FEED_NAME"
	feedMarkEnv = "TROUPE_FEED_MARK"
	feedKeys    = 7
)

type feedItem struct {
	ID int `json:"id"`
	V  int `json:"v"`
}

type feedSum struct{ Count, Sum int }

type feedTotal struct {
	key int
	sum feedSum
}

// TestHelperFeedNode is the child node of the feed tests; it is skipped
// in a normal run.
func TestHelperFeedNode(t *testing.T) {
	if os.Getenv(childEnv) != "feed" {
		t.Skip("the child node of the feed tests")
	}
	ctx, cancel := context.WithTimeout(context.Background(), childLife)
	defer cancel()
	sys := actor.NewSystem()
	n, err := Start(sys, "127.0.0.1:0", WithLogger(quiet()), WithPeers(os.Getenv(childPeers)))
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(2)
	}
	r, err := OpenFeed[feedItem](n, os.Getenv(feedAddrEnv), os.Getenv(feedNameEnv))
	must(err)
	mark, _ := strconv.Atoi(os.Getenv(feedMarkEnv))
	p := pipeline.New(pipeline.WithName("feed"), pipeline.WithCheckpointEvery(10*time.Millisecond))
	sums := pipeline.Keyed(r.Source(p, "feed"), "sum", pipeline.KeyedSpec[feedItem, int, feedSum, feedTotal]{
		Key: func(it feedItem) int { return it.ID % feedKeys },
		Update: func(_ context.Context, _ int, s *feedSum, it feedItem, _ func(feedTotal)) error {
			s.Count++
			s.Sum += it.V
			if it.ID == mark {
				fmt.Printf("FOLDED %d\n", it.ID)
			}
			return nil
		},
		Flush: func(k int, s *feedSum, emit func(feedTotal)) bool {
			emit(feedTotal{key: k, sum: *s})
			return false
		},
	}, pipeline.WithWorkers(2))
	pipeline.ToFunc(sums, "print", func(_ context.Context, tot feedTotal) error {
		fmt.Printf("TOTAL %d %d %d\n", tot.key, tot.sum.Count, tot.sum.Sum)
		return nil
	})
	fmt.Printf("READY %s %s\n", n.Addr(), n.GossipAddr())
	if err := p.Run(ctx); err != nil {
		fmt.Println("ERROR", err)
	} else {
		fmt.Println("DONE")
	}
	r.Close()
	_ = n.Close(ctx)
	_ = sys.Shutdown(ctx)
	os.Exit(0)
}

// feedChild is a child process of the feed tests; lines carries its
// stdout.
type feedChild struct {
	cmd   *exec.Cmd
	lines chan string
	done  chan struct{}
}

func startFeedChild(ctx context.Context, t *testing.T, peer, addr, name string, mark int) *feedChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperFeedNode$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"=feed", childPeers+"="+peer, feedAddrEnv+"="+addr,
		feedNameEnv+"="+name, feedMarkEnv+"="+strconv.Itoa(mark))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &feedChild{cmd: cmd, lines: make(chan string, 1024), done: make(chan struct{})}
	// Owner: the test; it ends when the child's stdout closes.
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case c.lines <- sc.Text():
			default:
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	t.Cleanup(c.kill)
	if l := c.next(ctx, t, "READY", "ERROR"); !strings.HasPrefix(l, "READY") {
		t.Fatalf("child: %s", l)
	}
	return c
}

// next returns the child's next line that starts with one of prefixes.
func (c *feedChild) next(ctx context.Context, t *testing.T, prefixes ...string) string {
	t.Helper()
	for {
		select {
		case l := <-c.lines:
			for _, p := range prefixes {
				if strings.HasPrefix(l, p) {
					return l
				}
			}
		case <-ctx.Done():
			t.Fatalf("child never printed %v: %v", prefixes, ctx.Err())
			return ""
		}
	}
}

func (c *feedChild) kill() {
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
	_ = c.cmd.Wait()
}

// TestFeedResumesAfterSIGKILL: a consumer process whose checkpoint (with
// its keyed sums) is on the feeding node is SIGKILLed after it read past
// that checkpoint; a new process resumes from it, is sent the items
// after it again, and its totals are exact: each item counted once.
func TestFeedResumesAfterSIGKILL(t *testing.T) {
	ctx := deadline(t)
	a, _, _ := shared(t)
	name := uniq(t, "feed")
	saves := make(chan pipeline.Checkpoint, 1<<12)
	f, err := NewFeed[feedItem](a, name, FeedCapacity(4096), FeedOnSave(func(c pipeline.Checkpoint) {
		select {
		case saves <- c:
		default:
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const half, mark = 1000, 1500
	want := map[int]feedSum{}
	appendItems := func(from, to int) {
		for id := from; id <= to; id++ {
			v := id*7919%1000 + 1
			if err := f.Append(ctx, feedItem{ID: id, V: v}); err != nil {
				t.Fatal(err)
			}
			s := want[id%feedKeys]
			s.Count++
			s.Sum += v
			want[id%feedKeys] = s
		}
	}

	c1 := startFeedChild(ctx, t, a.GossipAddr(), a.Addr(), name, mark)
	appendItems(1, half)
	// Wait for a checkpoint of the first half, with its sums in it.
	for cp := (pipeline.Checkpoint{}); cp.Pos != half; {
		select {
		case cp = <-saves:
		case <-ctx.Done():
			t.Fatal("no checkpoint of the first half")
		}
		if cp.Pos == half && len(cp.State["sum"]) == 0 {
			t.Fatalf("checkpoint at %d has no state: %v", cp.Pos, cp.State)
		}
	}
	appendItems(half+1, 2*half)
	c1.next(ctx, t, "FOLDED")
	c1.kill()
	saved, _ := f.Checkpoint()
	if saved.Pos < half || saved.Pos >= mark {
		t.Logf("checkpoint at %d when killed", saved.Pos)
	}

	c2 := startFeedChild(ctx, t, a.GossipAddr(), a.Addr(), name, 0)
	f.Finish()
	got := map[int]feedSum{}
	for len(got) < feedKeys {
		var k, n, s int
		l := c2.next(ctx, t, "TOTAL", "ERROR")
		if _, err := fmt.Sscanf(l, "TOTAL %d %d %d", &k, &n, &s); err != nil {
			t.Fatalf("child: %s", l)
		}
		got[k] = feedSum{Count: n, Sum: s}
	}
	if l := c2.next(ctx, t, "DONE", "ERROR"); l != "DONE" {
		t.Fatalf("child: %s", l)
	}
	select {
	case <-f.Done():
	case <-ctx.Done():
		t.Fatal("feed not done after the consumer ended")
	}
	for k, s := range want {
		if got[k] != s {
			t.Errorf("key %d: got %+v, want %+v", k, got[k], s)
		}
	}
	if saved.Pos < mark && f.Resent() < uint64(mark)-saved.Pos {
		t.Errorf("resent %d, want at least %d (read up to %d, checkpoint at %d)", f.Resent(), uint64(mark)-saved.Pos, mark, saved.Pos)
	}
	t.Logf("checkpoint at %d when SIGKILLed; resent %d", saved.Pos, f.Resent())
}

func TestFeedRefusesBadPositions(t *testing.T) {
	ctx := deadline(t)
	a, _, _ := shared(t)
	f, err := NewFeed[feedItem](a, uniq(t, "feed"), FeedCapacity(2))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := NewFeed[feedItem](a, "a/b"); !errors.Is(err, actor.ErrInvalidName) {
		t.Errorf("NewFeed(a/b): %v, want ErrInvalidName", err)
	}
	if _, err := NewFeed[feedItem](nil, "x"); !errors.Is(err, actor.ErrNilRef) {
		t.Errorf("NewFeed(nil): %v, want ErrNilRef", err)
	}
	for i := range 2 {
		if err := f.Append(ctx, feedItem{ID: i}); err != nil {
			t.Fatal(err)
		}
	}
	// Full: Append waits, bounded by its ctx.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	err = f.Append(short, feedItem{ID: 2})
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Append to a full feed: %v, want DeadlineExceeded", err)
	}
	ask := func(r feedReq) (feedAns, error) {
		return actor.Ask(ctx, f.ref, func(rep actor.Reply[feedAns]) feedReq { r.Reply = rep; return r })
	}
	if _, err := ask(feedReq{Op: feedSave, Pos: 3}); !errors.Is(err, ErrFeedPosition) {
		t.Errorf("save past the end: %v, want ErrFeedPosition", err)
	}
	if _, err := ask(feedReq{Op: feedSave, Pos: 1}); err != nil {
		t.Fatal(err)
	}
	// The checkpoint made room.
	if err := f.Append(ctx, feedItem{ID: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := ask(feedReq{Op: feedSave, Pos: 0}); !errors.Is(err, ErrFeedPosition) {
		t.Errorf("save before the saved checkpoint: %v, want ErrFeedPosition", err)
	}
	if _, err := ask(feedReq{Op: feedRead, From: 0, Max: 10}); !errors.Is(err, ErrFeedPosition) {
		t.Errorf("read before the checkpoint: %v, want ErrFeedPosition", err)
	}
	got, err := ask(feedReq{Op: feedRead, From: 1, Max: 10})
	if err != nil || len(got.Items) != 2 {
		t.Fatalf("read from the checkpoint: %v, %v", got, err)
	}
	if _, err := ask(feedReq{Op: feedRead, From: 1, Max: 1}); err != nil || f.Resent() != 1 {
		t.Errorf("read again: %v, resent %d, want 1", err, f.Resent())
	}
	f.Finish()
	if err := f.Append(ctx, feedItem{ID: 3}); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Finish: %v, want ErrClosed", err)
	}
	if a, err := ask(feedReq{Op: feedRead, From: 3, Max: 1}); err != nil || !a.EOF {
		t.Errorf("read at the end of a finished feed: %+v, %v; want EOF", a, err)
	}
	select {
	case <-f.Done():
		t.Error("done before the end was checkpointed")
	default:
	}
	// A checkpoint at the end that still holds keyed state is not the
	// end of the consumer's run; the final one (no state) is.
	if _, err := ask(feedReq{Op: feedSave, Pos: 3, State: map[string][]byte{"sum": []byte("x")}}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-f.Done():
		t.Error("done at a checkpoint with state")
	default:
	}
	if _, err := ask(feedReq{Op: feedSave, Pos: 3}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-f.Done():
	case <-ctx.Done():
		t.Fatal("not done after the end was checkpointed")
	}
}
