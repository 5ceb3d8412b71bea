package remote

import (
	"bufio"
	"context"
	"encoding/json"
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
	"github.com/troupe-go/troupe/chaos"
)

// The serving side of the remote stage tests: a child node process
// (childEnv=stage) that exposes one actor. TROUPE_STAGE_MODE says which:
//
//	double  "double": answers stageReq{ID} with 2×ID; with
//	        TROUPE_STAGE_HOLD=k it answers the first k requests, then
//	        keeps the others unanswered and prints "HELD n" for each
//	decode  "decode": the chaos job's decoder (chaos2_test.go), under a
//	        monkey that kills it (TROUPE_STAGE_KILL: rate per message);
//	        prints "KILL" for each kill

type (
	stageReq struct {
		ID    int                   `json:"id"`
		Reply actor.Reply[stageOut] `json:"-"`
	}
	stageOut struct {
		ID   int    `json:"id"`
		V    int    `json:"v"`
		Node string `json:"node"`
	}
)

func init() {
	must(Register[stageOut]("test.StageOut"))
	must(RegisterAsk("test.StageReq", func(r stageReq) actor.Reply[stageOut] { return r.Reply }, func(r *stageReq, rep actor.Reply[stageOut]) { r.Reply = rep }))
}

const (
	stageMode = "TROUPE_STAGE_MODE"
	stageHold = "TROUPE_STAGE_HOLD"
	stageKill = "TROUPE_STAGE_KILL"
	stageSeed = "TROUPE_STAGE_SEED"
)

// TestHelperStageNode is the child node of the stage tests; it is skipped
// in a normal run.
func TestHelperStageNode(t *testing.T) {
	if os.Getenv(childEnv) != "stage" {
		t.Skip("the child node of the remote stage tests")
	}
	var opts []actor.Option
	var m *chaos.Monkey
	if rate, _ := strconv.ParseFloat(os.Getenv(stageKill), 64); rate > 0 {
		seed, _ := strconv.ParseUint(os.Getenv(stageSeed), 10, 64)
		var err error
		m, err = chaos.New(seed, chaos.Rule{Kind: chaos.Kill, Pattern: "/decode", Rate: rate})
		must(err)
		m.OnFault(func(chaos.Fault) { fmt.Println("KILL") })
		opts = append(opts, actor.WithFaultInjector(m))
	}
	sys := actor.NewSystem(opts...)
	n, err := Start(sys, "127.0.0.1:0", WithLogger(quiet()), WithPeers(os.Getenv(childPeers)))
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(2)
	}
	switch os.Getenv(stageMode) {
	case "decode":
		ref, err := actor.Spawn(sys, "decode", func() actor.Actor[decodeReq] {
			return actor.Func[decodeReq](func(c actor.Context, r decodeReq) error {
				var w wireEvent
				if err := json.Unmarshal([]byte(r.Line), &w); err != nil {
					return r.Reply.Fail(c, fmt.Errorf("decode item %d: %w", r.ID, err))
				}
				return r.Reply.Send(c, w)
			})
		}, actor.WithMaxAttempts(3))
		must(err)
		must(Expose(n, "decode", ref))
	default:
		hold, _ := strconv.Atoi(os.Getenv(stageHold))
		answered, held := 0, 0
		ref, err := actor.Spawn(sys, "double", func() actor.Actor[stageReq] {
			return actor.Func[stageReq](func(c actor.Context, r stageReq) error {
				if hold > 0 && answered >= hold {
					held++
					fmt.Printf("HELD %d\n", held)
					return nil // never answered: in flight when the node dies
				}
				answered++
				return r.Reply.Send(c, stageOut{ID: r.ID, V: 2 * r.ID, Node: n.Addr()})
			})
		})
		must(err)
		must(Expose(n, "double", ref))
	}
	fmt.Printf("READY %s %s\n", n.Addr(), n.GossipAddr())
	eof := make(chan struct{})
	// Owner: the child node; it ends with the process.
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(eof)
	}()
	select {
	case <-eof:
	case <-time.After(childLife):
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = n.Close(ctx)
	_ = sys.Shutdown(ctx)
	os.Exit(0)
}

// stageChild is a child node of the stage tests.
type stageChild struct {
	cmd   *exec.Cmd
	addr  string
	lines chan string // its stdout lines after READY
	done  chan struct{}
}

// startStageChild starts a TestHelperStageNode process that joins peer,
// with env added to its environment; it is killed at the end of the test.
func startStageChild(ctx context.Context, t *testing.T, peer string, env ...string) *stageChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperStageNode$", "-test.count=1")
	cmd.Env = append(append(os.Environ(), childEnv+"=stage", childPeers+"="+peer), env...)
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
	c := &stageChild{cmd: cmd, lines: make(chan string, 1<<16), done: make(chan struct{})}
	ready := make(chan string, 1)
	// Owner: the test; it ends when the child's stdout closes (the child
	// exits or is killed).
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			l := sc.Text()
			switch {
			case strings.HasPrefix(l, "READY ") || strings.HasPrefix(l, "ERROR "):
				ready <- l
			case strings.HasPrefix(l, "HELD ") || l == "KILL":
				select {
				case c.lines <- l:
				default:
					panic("stage child: too many lines")
				}
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	t.Cleanup(func() {
		_ = in.Close()
		c.kill()
	})
	select {
	case l := <-ready:
		f := strings.Fields(l)
		if f[0] != "READY" || len(f) != 3 {
			t.Fatalf("child: %s", l)
		}
		c.addr = f[1]
	case <-ctx.Done():
		t.Fatalf("child not ready: %v", ctx.Err())
	}
	return c
}

// kill SIGKILLs the child and waits until it is gone and its output
// drained. It may be called again.
func (c *stageChild) kill() {
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
	_ = c.cmd.Wait()
}

// await returns when the child printed line.
func (c *stageChild) await(ctx context.Context, t *testing.T, line string) {
	t.Helper()
	for {
		select {
		case l := <-c.lines:
			if l == line {
				return
			}
		case <-ctx.Done():
			t.Fatalf("child %s never printed %q: %v", c.addr, line, ctx.Err())
		}
	}
}
