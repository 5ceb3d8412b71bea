// Command twonode runs two troupe nodes on 127.0.0.1: this process and a
// second node it starts as a child process. It Asks an actor on the
// second node through an ordinary actor.Ref, watches it, SIGKILLs the
// second node and prints what the watcher saw and how long detection
// took.
//
//	go run ./examples/twonode
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/remote"
)

// Greet asks the second node for a greeting.
type Greet struct {
	Name  string
	Reply actor.Reply[Greeting] `json:"-"`
}

// Greeting is the answer, with the process that answered.
type Greeting struct {
	Text string
	Pid  int
}

func init() {
	if err := remote.Register[Greeting]("twonode.Greeting"); err != nil {
		panic(err)
	}
	if err := remote.RegisterAsk("twonode.Greet",
		func(g Greet) actor.Reply[Greeting] { return g.Reply },
		func(g *Greet, r actor.Reply[Greeting]) { g.Reply = r }); err != nil {
		panic(err)
	}
}

// childEnv makes the program the second node; it carries the first
// node's gossip address.
const childEnv = "TWONODE_PEER"

func main() {
	if peer := os.Getenv(childEnv); peer != "" {
		if err := second(peer, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "second node:", err)
			os.Exit(1)
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "twonode:", err)
		os.Exit(1)
	}
}

// second is the second node: it exposes "greeter", prints "READY ADDR"
// and runs until its stdin closes (or it is killed).
func second(peer string, in io.Reader, out io.Writer) error {
	sys := actor.NewSystem()
	n, err := remote.Start(sys, "127.0.0.1:0", remote.WithPeers(peer))
	if err != nil {
		return err
	}
	greeter, err := actor.Spawn(sys, "greeter", func() actor.Actor[Greet] {
		return actor.Func[Greet](func(c actor.Context, g Greet) error {
			return g.Reply.Send(c, Greeting{Text: "hello, " + g.Name, Pid: os.Getpid()})
		})
	})
	if err != nil {
		return err
	}
	if err := remote.Expose(n, "greeter", greeter); err != nil {
		return err
	}
	fmt.Fprintf(out, "READY %s\n", n.Addr())
	_, _ = io.Copy(io.Discard, in)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = n.Close(ctx)
	return sys.Shutdown(ctx)
}

// run is the first node.
func run(ctx context.Context, out io.Writer) error {
	sys := actor.NewSystem()
	defer sys.Shutdown(context.Background())
	n, err := remote.Start(sys, "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer n.Close(context.Background())
	fmt.Fprintf(out, "node A on %s (pid %d)\n", n.Addr(), os.Getpid())

	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, exe, os.Args[1:]...)
	cmd.Env = append(os.Environ(), childEnv+"="+n.GossipAddr())
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	ready := make(chan string, 1)
	// Owner: run; it ends when the second node's stdout closes.
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if l, ok := strings.CutPrefix(sc.Text(), "READY "); ok {
				ready <- l
			}
		}
		close(ready)
	}()
	var addr string
	select {
	case a, ok := <-ready:
		if !ok {
			return errors.New("the second node ended before it was ready")
		}
		addr = a
	case <-ctx.Done():
		return ctx.Err()
	}
	fmt.Fprintf(out, "node B on %s (pid %d)\n", addr, cmd.Process.Pid)

	greeter, err := remote.Ref[Greet](n, addr, "greeter")
	if err != nil {
		return err
	}
	t0 := time.Now()
	g, err := actor.Ask(ctx, greeter, func(r actor.Reply[Greeting]) Greet { return Greet{Name: "A", Reply: r} })
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Ask across: %q from pid %d in %v\n", g.Text, g.Pid, time.Since(t0).Round(time.Microsecond))

	down, _ := actor.Watch(greeter.PID())
	killed := time.Now()
	if err := cmd.Process.Kill(); err != nil {
		return err
	}
	fmt.Fprintln(out, "SIGKILL node B")
	select {
	case t := <-down:
		fmt.Fprintf(out, "watcher saw: %s %s (%v), after %v\n", t.Path, t.Reason, t.Err, time.Since(killed).Round(time.Millisecond))
		if t.Reason != remote.NoConnection {
			return fmt.Errorf("watcher saw %v; want noconnection", t.Reason)
		}
	case <-ctx.Done():
		return fmt.Errorf("no exit seen: %w", ctx.Err())
	}
	_, err = actor.Ask(ctx, greeter, func(r actor.Reply[Greeting]) Greet { return Greet{Name: "A", Reply: r} })
	fmt.Fprintf(out, "Ask after the loss: %v (ErrNoConnection: %v)\n", err, errors.Is(err, remote.ErrNoConnection))
	return nil
}
