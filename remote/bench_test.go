package remote

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	pactor "github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/mailbox"
)

// The two-process benchmark: troupe's typed remote Tell and Ask side by
// side with protoactor-go's raw remote Send and RequestFuture, between
// the same two processes (this one, and a child node that serves both
// troupe actors and raw protoactor actors on its one Node). Run it with
//
//	cd remote && go test -run '^TestRemoteBench$' -rbench -v .
//
// It is skipped without -rbench (and never runs under -race: its numbers
// would mean nothing).
var rbench = flag.Bool("rbench", false, "run TestRemoteBench (the two-process benchmark)")

// rbenchOnly runs one part of TestRemoteBench alone, for a profile of it
// (with -test.cpuprofile here and RBENCH_CHILD_CPUPROFILE=FILE for the
// child node): "tell" (troupe's Tell), "raw" (protoactor's Send), "ask"
// (troupe's Ask).
var rbenchOnly = flag.String("rbench.only", "", "run only this part of TestRemoteBench: tell, raw or ask")

const benchEnv = "TROUPE_RBENCH_CHILD"

type (
	benchReq struct {
		S     string                `json:"s"`
		Reply actor.Reply[benchRep] `json:"-"`
	}
	benchRep struct {
		S string `json:"s"`
	}
)

func init() {
	must(Register[*wrapperspb.Int64Value]("bench.Int64"))
	must(Register[benchRep]("bench.Rep"))
	must(RegisterAsk("bench.Req", func(r benchReq) actor.Reply[benchRep] { return r.Reply }, func(r *benchReq, rep actor.Reply[benchRep]) { r.Reply = rep }))
}

// TestHelperBenchNode is the benchmark's child node.
func TestHelperBenchNode(t *testing.T) {
	if os.Getenv(benchEnv) == "" {
		t.Skip("the child node of TestRemoteBench")
	}
	if f := os.Getenv("RBENCH_CHILD_CPUPROFILE"); f != "" {
		out, err := os.Create(f)
		must(err)
		must(pprof.StartCPUProfile(out))
		defer pprof.StopCPUProfile()
	}
	sys := actor.NewSystem()
	n, err := Start(sys, "127.0.0.1:0", WithLogger(quiet()))
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(2)
	}
	// troupe: a counting sink (an Ask of it answers the count so far)
	// and an echo.
	sink, _ := actor.Spawn(sys, "sink", func() actor.Actor[*wrapperspb.Int64Value] {
		return actor.Func[*wrapperspb.Int64Value](func(actor.Context, *wrapperspb.Int64Value) error { return nil })
	}, actor.WithMailbox(4096, mailbox.Block))
	must(Expose(n, "sink", sink))
	echo, _ := actor.Spawn(sys, "echo", func() actor.Actor[benchReq] {
		return actor.Func[benchReq](func(c actor.Context, r benchReq) error { return r.Reply.Send(c, benchRep{S: r.S}) })
	})
	must(Expose(n, "echo", echo))
	// raw protoactor: the same, on the node's own actor system.
	var rawCount int64
	_, err = n.pa.Root.SpawnNamed(pactor.PropsFromFunc(func(c pactor.Context) {
		switch m := c.Message().(type) {
		case *wrapperspb.Int64Value:
			rawCount++
		case *wrapperspb.StringValue:
			if m.Value == "count" {
				c.Respond(wrapperspb.Int64(rawCount))
				return
			}
			c.Respond(m)
		}
	}), "raw")
	must(err)
	fmt.Printf("READY %s\n", n.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = n.Close(ctx)
	_ = sys.Shutdown(ctx)
}

func startBenchChild(ctx context.Context, t *testing.T) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperBenchNode$", "-test.count=1")
	cmd.Env = append(os.Environ(), benchEnv+"=1")
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
	ready := make(chan string, 1)
	drained := make(chan struct{})
	// Owner: the test; it ends when the child's stdout closes.
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if l, ok := strings.CutPrefix(sc.Text(), "READY "); ok {
				ready <- l
			}
		}
	}()
	t.Cleanup(func() {
		_ = in.Close()
		_ = cmd.Wait()
		<-drained
		if *rbenchOnly != "" && cmd.ProcessState != nil {
			t.Logf("child node CPU: %v user, %v system", cmd.ProcessState.UserTime(), cmd.ProcessState.SystemTime())
		}
	})
	select {
	case a := <-ready:
		return a
	case <-ctx.Done():
		t.Fatalf("bench child not ready: %v", ctx.Err())
	}
	return ""
}

// TestRemoteBench measures, in alternated rounds, one-way throughput
// (N messages, until the receiver handled the last: an ordered request
// after them answers) and sequential request latency, troupe against raw
// protoactor, and prints the medians.
func TestRemoteBench(t *testing.T) {
	if !*rbench {
		t.Skip("run with -rbench")
	}
	if raceEnabled {
		t.Skip("not under -race")
	}
	ctx := deadline(t)
	a, _, _ := shared(t)
	addr := startBenchChild(ctx, t)
	const (
		n      = 200_000
		asks   = 5000
		rounds = 5
	)
	rawPID := pactor.NewPID(addr, "raw")
	sink, err := Dial[*wrapperspb.Int64Value](a, addr, "sink")
	if err != nil {
		t.Fatal(err)
	}
	echo, err := Ref[benchReq](a, addr, "echo")
	if err != nil {
		t.Fatal(err)
	}
	msg := wrapperspb.Int64(42)

	rawTell := func() float64 {
		before, err := a.pa.Root.RequestFuture(rawPID, wrapperspb.String("count"), 10*time.Second).Result()
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		for range n {
			a.pa.Root.Send(rawPID, msg)
		}
		for {
			res, err := a.pa.Root.RequestFuture(rawPID, wrapperspb.String("count"), 10*time.Second).Result()
			if err != nil {
				t.Fatal(err)
			}
			if res.(*wrapperspb.Int64Value).Value-before.(*wrapperspb.Int64Value).Value >= n {
				break
			}
		}
		return n / time.Since(t0).Seconds()
	}
	troupeTell := func() float64 {
		t0 := time.Now()
		for range n {
			if err := sink.Tell(ctx, msg); err != nil {
				t.Fatal(err)
			}
		}
		// Acknowledged: every message is in the sink's mailbox; the
		// sink is far faster than the wire, so this is its handling.
		for sink.Outstanding() > 0 && ctx.Err() == nil {
			// An Ask on the same stream orders after the Tells' acks.
			if _, err := actor.Ask(ctx, echo, func(r actor.Reply[benchRep]) benchReq { return benchReq{S: "x", Reply: r} }); err != nil {
				t.Fatal(err)
			}
		}
		return n / time.Since(t0).Seconds()
	}
	lat := func(one func()) (p50, p99 time.Duration) {
		d := make([]time.Duration, asks)
		for i := range d {
			t0 := time.Now()
			one()
			d[i] = time.Since(t0)
		}
		slices.Sort(d)
		return d[asks/2], d[asks*99/100]
	}
	rawAsk := func() (time.Duration, time.Duration) {
		req := wrapperspb.String("hi")
		return lat(func() {
			if _, err := a.pa.Root.RequestFuture(rawPID, req, 5*time.Second).Result(); err != nil {
				t.Fatal(err)
			}
		})
	}
	troupeAsk := func() (time.Duration, time.Duration) {
		return lat(func() {
			actx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if _, err := actor.Ask(actx, echo, func(r actor.Reply[benchRep]) benchReq { return benchReq{S: "hi", Reply: r} }); err != nil {
				t.Fatal(err)
			}
		})
	}
	switch *rbenchOnly {
	case "":
	case "tell", "raw", "ask":
		var ru0, ru1 syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
		defer func() {
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
			t.Logf("this process's CPU: %v user, %v system", time.Duration(ru1.Utime.Nano()-ru0.Utime.Nano()), time.Duration(ru1.Stime.Nano()-ru0.Stime.Nano()))
		}()
		for range rounds {
			switch *rbenchOnly {
			case "tell":
				t.Logf("troupe Tell: %.2f M msg/s", troupeTell()/1e6)
			case "raw":
				t.Logf("raw Send: %.2f M msg/s", rawTell()/1e6)
			case "ask":
				p50, p99 := troupeAsk()
				t.Logf("troupe Ask: p50 %v p99 %v", p50, p99)
			}
		}
		sink.Close()
		return
	default:
		t.Fatalf("-rbench.only %q: want tell, raw or ask", *rbenchOnly)
	}
	// Warm up both paths.
	rawAsk()
	troupeAsk()
	var rt, tt []float64
	var r50, r99, t50, t99 []time.Duration
	for range rounds {
		rt = append(rt, rawTell())
		tt = append(tt, troupeTell())
		a50, a99 := rawAsk()
		b50, b99 := troupeAsk()
		r50, r99, t50, t99 = append(r50, a50), append(r99, a99), append(t50, b50), append(t99, b99)
	}
	med := func(v []float64) float64 { v = slices.Clone(v); slices.Sort(v); return v[len(v)/2] }
	medD := func(v []time.Duration) time.Duration { v = slices.Clone(v); slices.Sort(v); return v[len(v)/2] }
	rng := func(v []float64) string { return fmt.Sprintf("%.2f–%.2f", slices.Min(v)/1e6, slices.Max(v)/1e6) }
	var b strings.Builder
	fmt.Fprintf(&b, "two processes on 127.0.0.1, median of %d alternated rounds (range); credit window %d\n", rounds, DefaultWindow)
	fmt.Fprintf(&b, "| | protoactor raw remote | troupe remote | ratio |\n|---|---|---|---|\n")
	fmt.Fprintf(&b, "| one-way Int64Value, N=%d (M msg/s) | %.2f (%s) | %.2f (%s) | %.2f× |\n", n, med(rt)/1e6, rng(rt), med(tt)/1e6, rng(tt), med(tt)/med(rt))
	fmt.Fprintf(&b, "| sequential request p50 | %v | %v | %.2f× |\n", medD(r50).Round(time.Microsecond), medD(t50).Round(time.Microsecond), float64(medD(t50))/float64(medD(r50)))
	fmt.Fprintf(&b, "| sequential request p99 | %v | %v | %.2f× |\n", medD(r99).Round(time.Microsecond), medD(t99).Round(time.Microsecond), float64(medD(t99))/float64(medD(r99)))
	fmt.Print(b.String())
	sink.Close()
}
