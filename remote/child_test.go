package remote

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/troupe-go/troupe/actor"
)

// Multi-node tests run the other node as a child process of the test
// binary (protoactor and gRPC race with two nodes in one process): the
// test re-executes os.Args[0] with childEnv set, which runs
// TestHelperNode only. The child listens on 127.0.0.1 only, joins the
// parent's membership, prints "READY <addr> <gossip addr>", and exits when
// its stdin closes or after childLife.

// childEnv marks a test process started as another node; childPeers
// carries the parent's gossip address.
const (
	childEnv   = "TROUPE_REMOTE_CHILD"
	childPeers = "TROUPE_REMOTE_PEERS"
	childLife  = 60 * time.Second
)

// TestHelperNode is the child node; it is skipped in a normal run.
func TestHelperNode(t *testing.T) {
	switch os.Getenv(childEnv) {
	case "":
		t.Skip("the child node of the multi-node tests")
	case "close":
		closeChild()
		return
	}
	sys := actor.NewSystem()
	n, err := Start(sys, "127.0.0.1:0", WithLogger(quiet()), WithPeers(os.Getenv(childPeers)))
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(2)
	}
	orders, _ := actor.Spawn(sys, "orders", func() actor.Actor[place] {
		return actor.Func[place](func(c actor.Context, p place) error {
			return p.Reply.Send(c, orderAck{ID: p.Order.ID * 10})
		})
	})
	sink, _ := actor.Spawn(sys, "sink", func() actor.Actor[order] {
		return actor.Func[order](func(actor.Context, order) error { return nil })
	})
	must(Expose(n, "orders", orders))
	must(Expose(n, "sink", sink))
	for _, v := range []string{"normal", "shutdown", "fail", "kill", "stop", "a", "b", "c"} {
		must(Expose(n, "victim-"+v, spawnVictim(t, sys, "victim-"+v)))
	}
	closed := make(chan struct{})
	closer, _ := actor.Spawn(sys, "closer", func() actor.Actor[command] {
		return actor.Func[command](func(actor.Context, command) error {
			// Owner: the child node; it closes the Node (which waits for
			// this gateway's delivery goroutine, so not on it).
			go func() {
				_ = n.Close(context.Background())
				close(closed)
			}()
			return nil
		})
	})
	must(Expose(n, "closer", closer))
	fmt.Printf("READY %s %s\n", n.Addr(), n.GossipAddr())
	eof := make(chan struct{})
	// Owner: the child node; it ends with the process.
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(eof)
	}()
	select {
	case <-eof:
	case <-closed:
		<-eof
	case <-time.After(childLife):
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = n.Close(ctx)
	_ = sys.Shutdown(ctx)
	os.Exit(0)
}

// TestCloseLeavesNothing: in a process of its own (see shared), a Node
// that served and sent is closed; then nothing of it runs (goleak), and
// Expose and Dial fail with ErrClosed.
func TestCloseLeavesNothing(t *testing.T) {
	ctx := deadline(t)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperNode$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"=close")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "CLOSE OK") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

// closeChild is TestCloseLeavesNothing's child.
func closeChild() {
	fail := func(format string, args ...any) {
		fmt.Printf("CLOSE FAIL "+format+"\n", args...)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sys := actor.NewSystem()
	n, err := Start(sys, "127.0.0.1:0", WithLogger(quiet()))
	if err != nil {
		fail("Start: %v", err)
	}
	if !strings.HasPrefix(n.Addr(), "127.0.0.1:") || strings.HasSuffix(n.Addr(), ":0") || strings.HasSuffix(n.GossipAddr(), ":0") {
		fail("addresses %q %q", n.Addr(), n.GossipAddr())
	}
	orders, _ := actor.Spawn(sys, "orders", func() actor.Actor[place] {
		return actor.Func[place](func(c actor.Context, p place) error { return p.Reply.Send(c, orderAck{ID: p.Order.ID}) })
	})
	if err := Expose(n, "orders", orders); err != nil {
		fail("Expose: %v", err)
	}
	ref, err := Ref[place](n, n.Addr(), "orders")
	if err != nil {
		fail("Ref: %v", err)
	}
	for i := range 100 {
		if ack, err := actor.Ask(ctx, ref, func(r actor.Reply[orderAck]) place { return place{Order: order{ID: i}, Reply: r} }); err != nil || ack.ID != i {
			fail("Ask: %v %v", ack, err)
		}
	}
	if err := n.Close(ctx); err != nil {
		fail("Close: %v", err)
	}
	if err := n.Close(ctx); err != nil {
		fail("second Close: %v", err)
	}
	if err := Expose(n, "again", orders); !errors.Is(err, ErrClosed) {
		fail("Expose after Close: %v", err)
	}
	if _, err := Dial[order](n, n.Addr(), "orders"); !errors.Is(err, ErrClosed) {
		fail("Dial after Close: %v", err)
	}
	select {
	case <-ref.PID().Done():
	default:
		fail("a Ref of the closed node is not done")
	}
	if err := sys.Shutdown(ctx); err != nil {
		fail("Shutdown: %v", err)
	}
	if err := goleak.Find(); err != nil {
		fail("goroutines left: %v", err)
	}
	fmt.Println("CLOSE OK")
}

// child is a node process.
type child struct {
	cmd    *exec.Cmd
	addr   string // remote address
	gossip string
	done   chan struct{} // its stdout drained
}

// startChild starts a child node that joins peer (a gossip address); it
// is killed at the end of the test.
func startChild(ctx context.Context, t *testing.T, peer string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperNode$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"=1", childPeers+"="+peer)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, done: make(chan struct{})}
	ready := make(chan string, 1)
	// Owner: the test; it ends when the child's stdout closes (the child
	// exits or is killed in Cleanup).
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if l := sc.Text(); strings.HasPrefix(l, "READY ") || strings.HasPrefix(l, "ERROR ") {
				ready <- l
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	t.Cleanup(func() {
		_ = in.Close()
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		<-c.done
	})
	select {
	case l := <-ready:
		f := strings.Fields(l)
		if f[0] != "READY" || len(f) != 3 {
			t.Fatalf("child: %s", l)
		}
		c.addr, c.gossip = f[1], f[2]
	case <-ctx.Done():
		t.Fatalf("child not ready: %v", ctx.Err())
	}
	return c
}

// stop SIGSTOPs the child and waits until the kernel shows it stopped
// (a signal is delivered asynchronously: without this, a message sent
// right after may still be handled).
func (c *child) stop(ctx context.Context, t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stat := fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid)
	for ctx.Err() == nil {
		b, err := os.ReadFile(stat)
		if err != nil {
			t.Fatal(err)
		}
		// pid (comm) state ...: the state follows the last ')'.
		if i := strings.LastIndexByte(string(b), ')'); i > 0 && i+2 < len(b) && b[i+2] == 'T' {
			return
		}
		runtime.Gosched()
	}
	t.Fatalf("child not stopped: %v", ctx.Err())
}

// memberWatch reports membership changes of a Node (an unexported option
// for tests).
type memberWatch struct{ ch chan memberEvent }

type memberEvent struct {
	addr  string
	alive bool
	at    time.Time
}

func newMemberWatch() (*memberWatch, Option) {
	w := &memberWatch{ch: make(chan memberEvent, 1024)}
	return w, optionFunc(func(c *config) {
		c.members = func(addr string, alive bool) {
			select {
			case w.ch <- memberEvent{addr, alive, time.Now()}:
			default:
			}
		}
	})
}

// wait returns the first event for addr with the given state.
func (w *memberWatch) drain() {
	for {
		select {
		case <-w.ch:
		default:
			return
		}
	}
}

func (w *memberWatch) wait(ctx context.Context, t *testing.T, addr string, alive bool) time.Time {
	t.Helper()
	for {
		select {
		case e := <-w.ch:
			if e.addr == addr && e.alive == alive {
				return e.at
			}
		case <-ctx.Done():
			t.Fatalf("no membership event %s alive=%v: %v", addr, alive, ctx.Err())
		}
	}
}
