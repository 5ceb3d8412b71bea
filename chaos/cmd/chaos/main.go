// Command chaos runs troupe's reference pipeline while a seeded monkey
// kills its workers, then checks that nothing was lost.
//
// The pipeline is shaped like a streaming job: a source of events with
// user ids, a decode stage (fan-out), a per-user aggregator (stateful,
// sharded by user id), and a writer (fan-out) with a dead-letter sink.
// A fraction of the events is poison (malformed): it must end in dead
// letters and nowhere else. The report says what came in and out, what
// was lost or duplicated, how many workers were killed and restarted,
// whether the per-user aggregates equal a straight recomputation and
// whether goroutines were left behind. Its last line on stdout is one
// JSON object. The exit status is 1 if an invariant broke.
//
// Usage:
//
//	go run ./chaos/cmd/chaos [-items N] [-workers W] [-kill-every K]
//		[-poison F] [-seed S] [-timeout D] [-json] [-serve 127.0.0.1:PORT]
//		[-nodes 1|2]
//
// With -serve, the run can be watched live in a browser: the command
// serves the tree view (package treeview) of the pipeline's stages and of
// its failure and restart events on that address while the run lasts.
//
// With -nodes 2, the aggregation stage runs on a second node: a child
// process of the command (the same binary, on 127.0.0.1, killed when the
// run ends), which reads the decoded events from a remote.Feed of this
// node and saves its checkpoints, with the per-user states, there. Its own
// monkey kills its workers, and the runner SIGKILLs it once, a third of
// the way, and starts another, which resumes from the last checkpoint;
// the feed sends it the items after that checkpoint again. The report
// adds what was lost in transit, what was re-sent, the outputs received
// twice and dropped, and the child's kills, and must still show nothing
// lost and exact aggregates. This command is its own module (it imports
// github.com/troupe-go/troupe/remote), listed in the repository's go.work.
//
// See docs/chaos.md and docs/remote.md.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/troupe-go/troupe/chaos"
)

// config holds the flags of a run.
type config struct {
	Items     int
	Workers   int
	Users     int
	KillEvery int
	Poison    float64
	Seed      uint64
	Timeout   time.Duration
	JSON      bool
	Progress  time.Duration
	Serve     string // -serve: listen address of the live view; "": none
	Nodes     int    // -nodes: 1, or 2 with the aggregation on a child node

	checkpoint time.Duration // -nodes 2: the child's checkpoint interval

	// Test hooks: break the pipeline on purpose, so the tests see the
	// checks fail.
	loseEvery   int              // the writer drops every loseEvery-th item
	corruptUser bool             // the aggregator miscounts user 0
	keepReplays bool             // -nodes 2: outputs received again are not dropped
	leak        chan struct{}    // if set, goroutines wait on it past the run
	leakWait    time.Duration    // how long to wait for goroutines to end
	serving     func(url string) // called with the view's URL once the pipeline runs
}

func defaultConfig() config {
	return config{
		Items:     2_000_000,
		Workers:   4,
		Users:     1000,
		KillEvery: 100,
		Poison:    0.001,
		Seed:      1,
		Timeout:   2 * time.Minute,
		Progress:  time.Second,
		Nodes:     1,
		leakWait:  3 * time.Second,

		checkpoint: 100 * time.Millisecond,
	}
}

func (c config) validate() error {
	switch {
	case c.Items < 1:
		return fmt.Errorf("-items %d: want at least 1", c.Items)
	case c.Workers < 1:
		return fmt.Errorf("-workers %d: want at least 1", c.Workers)
	case c.Users < 1:
		return fmt.Errorf("-users %d: want at least 1", c.Users)
	case c.KillEvery < 0:
		return fmt.Errorf("-kill-every %d: want 0 (none) or more", c.KillEvery)
	case c.Poison < 0 || c.Poison > 1:
		return fmt.Errorf("-poison %v: want a fraction in [0, 1]", c.Poison)
	case c.Timeout <= 0:
		return fmt.Errorf("-timeout %v: want a positive duration", c.Timeout)
	case c.Nodes != 1 && c.Nodes != 2:
		return fmt.Errorf("-nodes %d: want 1 or 2", c.Nodes)
	case c.Nodes == 2 && c.Serve != "":
		return fmt.Errorf("-serve: not with -nodes 2")
	}
	return nil
}

// result is the outcome of a run; its JSON form is the report's last line.
type result struct {
	Seed               uint64         `json:"seed"`
	Items              int            `json:"items"`
	Out                int            `json:"out"`
	DeadLettered       int            `json:"dead_lettered"`
	PoisonExpected     int            `json:"poison_expected"`
	PoisonFound        int            `json:"poison_found"`
	UnexpectedDead     int            `json:"unexpected_dead"`
	Lost               int            `json:"lost"`
	Duplicates         int            `json:"duplicates"`
	DuplicatesExpected int            `json:"duplicates_expected"`
	Kills              int            `json:"kills"`
	KillsBySite        map[string]int `json:"kills_by_site"`
	Failures           int            `json:"failures"`
	Restarts           int            `json:"restarts"`
	Escalations        int            `json:"escalations"`
	LeakedGoroutines   int            `json:"leaked_goroutines"`
	Users              int            `json:"users"`
	AggregatesOK       bool           `json:"aggregates_ok"`
	FaultsOK           bool           `json:"faults_ok"`
	ItemsPerSec        float64        `json:"items_per_sec"`
	ElapsedSec         float64        `json:"elapsed_sec"`
	Nodes              int            `json:"nodes"`
	LostInTransit      uint64         `json:"lost_in_transit"`
	Resent             uint64         `json:"resent"`
	Replayed           int            `json:"replayed,omitempty"`
	RemoteKills        int            `json:"remote_kills,omitempty"`
	RemoteKillsBySite  map[string]int `json:"remote_kills_by_site,omitempty"`
	RemoteRestarts     int            `json:"remote_restarts,omitempty"`
	RemoteDeadLettered int            `json:"remote_dead_lettered,omitempty"`
	RemoteSIGKILLs     int            `json:"remote_sigkills,omitempty"`
	PipelineErr        string         `json:"pipeline_error,omitempty"`
	OK                 bool           `json:"ok"`

	problems []string
}

func main() {
	if os.Getenv(nodeEnv) != "" {
		os.Exit(nodeMain(os.Stdout)) // a child node of -nodes 2
	}
	cfg := defaultConfig()
	fs := flag.NewFlagSet("chaos", flag.ExitOnError)
	fs.IntVar(&cfg.Items, "items", cfg.Items, "number of events the source emits")
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "workers per stage (decode, aggregate, write)")
	fs.IntVar(&cfg.Users, "users", cfg.Users, "number of distinct user ids (aggregation keys)")
	fs.IntVar(&cfg.KillEvery, "kill-every", cfg.KillEvery, "kill a worker about once per K items (0: no kills)")
	fs.Float64Var(&cfg.Poison, "poison", cfg.Poison, "fraction of items that always fail (must end in dead letters)")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the data and of the fault schedule")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "abort the run after this long (it then fails)")
	fs.BoolVar(&cfg.JSON, "json", false, "print only the JSON line on stdout")
	fs.DurationVar(&cfg.Progress, "progress", cfg.Progress, "progress interval on stderr (0: none)")
	fs.StringVar(&cfg.Serve, "serve", "", "serve the live tree view of the run on this address, e.g. 127.0.0.1:7070")
	fs.IntVar(&cfg.Nodes, "nodes", cfg.Nodes, "1, or 2: the aggregation on a second node process, SIGKILLed once")
	_ = fs.Parse(os.Args[1:])
	if err := cfg.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(2)
	}
	res, err := run(context.Background(), cfg, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(2)
	}
	if !res.OK {
		os.Exit(1)
	}
}

// run runs the reference pipeline once under the monkey, prints the
// report on stdout and progress on stderr, and returns the result. An
// error means the run could not be set up; a broken invariant is a result
// with OK false.
func run(ctx context.Context, cfg config, stdout, stderr io.Writer) (*result, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	baseline := runtime.NumGoroutine()

	var rules []chaos.Rule
	if cfg.KillEvery > 0 {
		// One rule over the four sites: each item meets about four hits,
		// so a rate of 1/(4K) per hit is about one kill per K items.
		rules = append(rules, chaos.Rule{Kind: chaos.Kill, Rate: 1 / float64(len(sites)*cfg.KillEvery)})
	}
	m, err := chaos.New(cfg.Seed, rules...)
	if err != nil {
		return nil, err
	}
	c := chaos.NewChecker[uint64](chaos.WithGoroutineBaseline(baseline))
	poison := poisonIDs(cfg)
	for _, id := range poison {
		c.ExpectDead(id)
	}
	var w *watcher
	if cfg.Serve != "" {
		if w, err = watch(cfg.Serve, stderr); err != nil {
			return nil, err
		}
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var tn *twoNodes
	var failMu sync.Mutex
	var failed []string // why a -nodes 2 run was aborted
	if cfg.Nodes == 2 {
		tn, err = startTwo(runCtx, cfg, func(err error) {
			failMu.Lock()
			failed = append(failed, err.Error())
			failMu.Unlock()
			cancel()
		}, stderr)
		if err != nil {
			return nil, fmt.Errorf("-nodes 2: %w", err)
		}
	}
	r := build(cfg, m, c, w, tn)
	w.show(r.p)

	if cfg.leak != nil {
		// Test hook: goroutines the run leaves behind; the test ends them
		// by closing cfg.leak. Several, so that goroutines of an earlier
		// run in the same process, ending meanwhile, cannot hide them.
		for range 32 {
			go func() { <-cfg.leak }()
		}
	}

	var stuck sync.Once
	timeout := time.AfterFunc(cfg.Timeout, func() {
		// A run past its timeout is stuck or far too slow: show where
		// every goroutine is before the abort unwinds them.
		stuck.Do(func() {
			buf := make([]byte, 8<<20)
			fmt.Fprintf(stderr, "chaos: run not finished after %v; goroutines:\n%s\n", cfg.Timeout, buf[:runtime.Stack(buf, true)])
		})
		cancel()
	})
	start := time.Now()
	stopProgress := progress(cfg, r, start, stderr)
	perr := r.p.Start(runCtx)
	if perr == nil && tn != nil {
		tn.run(runCtx)
	}
	if perr == nil {
		if cfg.serving != nil && w != nil {
			cfg.serving(w.url)
		}
		perr = r.p.Wait(context.Background())
	}
	elapsed := time.Since(start)
	aborted := runCtx.Err() != nil
	// The view's server goes before the goroutine check below.
	closeCtx, closeCancel := context.WithTimeout(ctx, 5*time.Second)
	if err := w.close(closeCtx); err != nil {
		fmt.Fprintln(stderr, "chaos: -serve:", err)
	}
	closeCancel()
	if tn != nil {
		// The node and its children go before the goroutine check too.
		cancel() // ends the goroutines of tn.run
		tctx, tcancel := context.WithTimeout(ctx, 10*time.Second)
		tn.close(tctx)
		tcancel()
	}
	timeout.Stop()
	stuck.Do(func() {}) // wait for a dump in progress
	stopProgress()
	failMu.Lock()
	abortedByNode := len(failed) > 0
	failMu.Unlock()
	if perr != nil && ctx.Err() == nil && aborted && !abortedByNode {
		perr = fmt.Errorf("timed out after %v: %w", cfg.Timeout, perr)
	}

	r.mu.Lock()
	chaos.CompareAggregates(c, "total", r.totals, want(cfg))
	dupTot := r.dupTot
	r.mu.Unlock()
	// The pipeline stopped its actor system; give late goroutines (timers,
	// the pool's parked workers) a bounded time to go.
	leakCtx, leakCancel := context.WithTimeout(ctx, cfg.leakWait)
	rep := c.Check(leakCtx, m)
	leakCancel()

	res := &result{
		Seed: cfg.Seed, Items: cfg.Items,
		Out: rep.Delivered, DeadLettered: rep.DeadLettered,
		PoisonExpected: len(poison), PoisonFound: len(poison) - len(rep.MissingDead),
		UnexpectedDead: len(rep.UnexpectedDead), Lost: len(rep.Lost),
		Duplicates: rep.Duplicates, Kills: m.Count(chaos.Kill), KillsBySite: map[string]int{},
		Failures: rep.Failures, Restarts: rep.Restarts, Escalations: rep.Escalations,
		LeakedGoroutines: rep.LeakedGoroutines, Users: cfg.Users,
		ElapsedSec:  math.Round(elapsed.Seconds()*1000) / 1000,
		ItemsPerSec: math.Round(float64(cfg.Items) / elapsed.Seconds()),
	}
	for _, f := range m.Faults() {
		if f.Kind == chaos.Kill {
			res.KillsBySite[f.Site]++
		}
	}
	res.DuplicatesExpected = res.KillsBySite["ack"]

	res.AggregatesOK = len(rep.Aggregates) == 0
	res.FaultsOK = len(rep.FaultProblems) == 0
	res.problems = rep.Problems()
	if tn != nil {
		tn.report(res)
	} else {
		res.Nodes = 1
	}
	failMu.Lock()
	for _, f := range failed {
		res.problems = append(res.problems, "-nodes 2: "+f)
	}
	failMu.Unlock()
	if perr != nil {
		res.PipelineErr = perr.Error()
		res.problems = append(res.problems, "pipeline: "+perr.Error())
	}
	if res.Duplicates != res.DuplicatesExpected {
		res.problems = append(res.problems, fmt.Sprintf("%d duplicates, want %d (one per kill after the write)", res.Duplicates, res.DuplicatesExpected))
	}
	if dupTot > 0 {
		res.problems = append(res.problems, fmt.Sprintf("%d user totals written twice", dupTot))
	}
	if res.Restarts != res.Kills {
		res.problems = append(res.problems, fmt.Sprintf("%d restarts, want %d (one per kill)", res.Restarts, res.Kills))
	}
	res.OK = len(res.problems) == 0

	if !cfg.JSON {
		printReport(stdout, cfg, res, r.dead.reasons(), rep.Leaks)
	}
	line, err := json.Marshal(res)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stdout, "%s\n", line)
	return res, nil
}

// progress prints a progress line on stderr every cfg.Progress until the
// returned function is called; that function waits for the printer's
// goroutine to exit.
func progress(cfg config, r *refRun, start time.Time, stderr io.Writer) (stop func()) {
	if cfg.Progress <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	// Owner: run; stopped by closing done, waited for by stop.
	go func() {
		defer wg.Done()
		t := time.NewTicker(cfg.Progress)
		defer t.Stop()
		var last uint64
		lastT := start
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				out := r.delivered.Load()
				rate := float64(out-last) / now.Sub(lastT).Seconds()
				last, lastT = out, now
				fmt.Fprintf(stderr, "chaos: %5.1fs  in %d  out %d  %.0f items/s  kills %d  restarts %d\n",
					now.Sub(start).Seconds(), r.entered.Load(), out, rate, r.monkey.Count(chaos.Kill), r.restarts.Load())
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func printReport(w io.Writer, cfg config, res *result, dead map[string]int, leaks string) {
	fmt.Fprintf(w, "troupe chaos: seed %d, %d items, %d users, %d workers per stage, kill every %d, poison %g, %d node(s)\n",
		cfg.Seed, cfg.Items, cfg.Users, cfg.Workers, cfg.KillEvery, cfg.Poison, cfg.Nodes)
	fmt.Fprintf(w, "  items in          %d\n", res.Items)
	fmt.Fprintf(w, "  items out         %d\n", res.Out)
	fmt.Fprintf(w, "  dead-lettered     %d (poison expected %d, found %d; non-poison %d) %s\n",
		res.DeadLettered, res.PoisonExpected, res.PoisonFound, res.UnexpectedDead, formatCounts(dead))
	fmt.Fprintf(w, "  lost              %d\n", res.Lost)
	fmt.Fprintf(w, "  duplicated        %d (expected %d: kills after the write, at-least-once)\n", res.Duplicates, res.DuplicatesExpected)
	fmt.Fprintf(w, "  kills             %d %s\n", res.Kills, formatCounts(res.KillsBySite))
	fmt.Fprintf(w, "  restarts          %d (failures %d, escalations %d)\n", res.Restarts, res.Failures, res.Escalations)
	if res.Nodes == 2 {
		fmt.Fprintf(w, "  child node        SIGKILLed %d, kills %d %s, restarts %d, dead-lettered %d\n",
			res.RemoteSIGKILLs, res.RemoteKills, formatCounts(res.RemoteKillsBySite), res.RemoteRestarts, res.RemoteDeadLettered)
		fmt.Fprintf(w, "  lost in transit   %d\n", res.LostInTransit)
		fmt.Fprintf(w, "  resent            %d (outputs received again and dropped: %d)\n", res.Resent, res.Replayed)
	}
	fmt.Fprintf(w, "  goroutines leaked %d\n", res.LeakedGoroutines)
	fmt.Fprintf(w, "  aggregates        %d users, %s\n", res.Users, okText(res.AggregatesOK, "equal to a straight recomputation", "WRONG"))
	fmt.Fprintf(w, "  throughput        %.0f items/s (%.2f s)\n", res.ItemsPerSec, res.ElapsedSec)
	for _, p := range res.problems {
		fmt.Fprintf(w, "  FAIL: %s\n", p)
	}
	if res.LeakedGoroutines > 0 && leaks != "" {
		fmt.Fprintf(w, "  goroutines still running:\n%s\n", indent(leaks))
	}
	fmt.Fprintln(w, okText(res.OK, "PASS", "FAIL"))
}

func okText(ok bool, yes, no string) string {
	if ok {
		return yes
	}
	return no
}

func formatCounts(m map[string]int) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}
