// Service: an HTTP service whose actors, worker pool and pipeline all run
// in ONE supervision tree, under one root supervisor, shown whole in the
// live tree view.
//
// The tree (one_for_one at the root):
//
//	/app                          the root supervisor
//	  /app/hits                   an actor: counts the requests served
//	  /app/stats                  an actor: counts the events stored, by kind
//	  /app/render                 a pool (package pool) of three workers
//	    /app/render/worker-1..3
//	  /app/ingest                 the events pipeline, a supervisor child
//	    /app/ingest/events        the run's root supervisor
//	      /app/ingest/events/in         FromRef: the inlet the handlers Tell
//	      /app/ingest/events/parse/w0   Map, two workers
//	      /app/ingest/events/parse/w1
//	      /app/ingest/events/store/w0   ToRef: delivers to /app/stats, acked
//
// It serves on one listener (loopback by default):
//
//	POST /render          the body, rendered by a pool worker (pool.Ask)
//	POST /events          one event per line, into the pipeline's inlet
//	GET  /stats           the counts of /app/hits and /app/stats, as JSON
//	/debug/troupe/        treeview.Handler: the page, ?format=json, /events (SSE)
//
// A ?crash=1 on POST /render makes the worker that gets it panic on its
// first delivery: its pool supervisor restarts it and the request is
// redelivered to the fresh worker, which answers. An event line "crash"
// makes a parse worker panic once: its stage supervisor restarts it and
// the item is retried. Both restarts show in the tree view.
//
// The server, the tree and the shutdown are members of one errgroup. On
// SIGINT or SIGTERM, or after -duration, the service stops the server,
// closes the inlet and waits (bounded) for the pipeline to drain what it
// accepted, then stops the tree, children last started first:
//
//	go run ./examples/service [-addr 127.0.0.1:0] [-duration 0]
//
// What to copy: pool.Spec and Pipeline.Spec as ordinary children,
// StartChild for a child that needs the Ref of a sibling started before
// it, looking up
// Inlet.Ref per request (each run of the pipeline has its own inlet
// actor), and sup.Run in an errgroup with a drain step before it ends.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/pipeline"
	"github.com/troupe-go/troupe/pool"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/treeview"
)

// config is what the flags set.
type config struct {
	Addr     string        // listen address
	Duration time.Duration // stop after this long; 0: at a signal only

	// ready, if set, is called with the listener's address once the
	// service serves (the tests use it with -addr 127.0.0.1:0).
	ready func(addr string)
	// The tests' hooks: parsed, if set, is called by the parse stage with
	// each line it parsed (an error fails the attempt); draining when
	// the drain begins.
	parsed   func(ctx context.Context, text string) error
	draining func()
}

func main() {
	var cfg config
	fs := flag.NewFlagSet("service", flag.ExitOnError)
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:0", "listen address (port 0: any free port, printed)")
	fs.DurationVar(&cfg.Duration, "duration", 0, "stop after this long (0: run until SIGINT or SIGTERM)")
	_ = fs.Parse(os.Args[1:])

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "service:", err)
		os.Exit(1)
	}
}

// drainTimeout bounds the pipeline's drain at shutdown; stopTimeout the
// HTTP server's shutdown.
const (
	drainTimeout = 5 * time.Second
	stopTimeout  = 5 * time.Second
)

// run serves until ctx ends or cfg.Duration passes, then stops the
// service and returns nil; an error means it could not start, or a member
// of the group failed (the tree gave up: a *supervisor.GaveUpError; the
// server failed), which stopped the others.
func run(ctx context.Context, cfg config, stdout io.Writer) error {
	if cfg.Duration < 0 {
		return fmt.Errorf("-duration %v: want 0 (until a signal) or more", cfg.Duration)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	defer ln.Close() // on an early return; Shutdown closes it too
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}

	sys := actor.NewSystem(actor.WithName("service"))
	defer func() { _ = sys.Shutdown(context.Background()) }()

	s, err := build(sys, cfg)
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("POST /render", s.counted("render", s.handleRender))
	mux.Handle("POST /events", s.counted("events", s.handleEvents))
	mux.Handle("GET /stats", s.counted("stats", s.handleStats))
	mux.Handle("/debug/troupe/", http.StripPrefix("/debug/troupe", treeview.Handler(sys)))
	// Requests run on baseCtx, cancelled before Shutdown so that open
	// /debug/troupe/events streams end instead of holding it up.
	baseCtx, cancelRequests := context.WithCancel(context.Background())
	defer cancelRequests()
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
	}

	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "service: serving on %s\n", base)
	fmt.Fprintf(stdout, "  POST %s/render, POST %s/events, GET %s/stats\n", base, base, base)
	fmt.Fprintf(stdout, "  tree view  %s/debug/troupe/ (JSON: ?format=json)\n", base)
	if cfg.ready != nil {
		cfg.ready(ln.Addr().String())
	}

	// The tree runs on treeCtx, which ends after the drain: when the
	// group's context ends, the server stops first, then the pipeline
	// drains, then the tree stops.
	treeCtx, stopTree := context.WithCancel(context.Background())
	defer stopTree()
	// Owner of the members: run; g.Wait waits for all three.
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		// A GaveUpError (or a failed stop) ends the group with it; the
		// stop after the drain is the end we asked for.
		err := s.app.Run(treeCtx)
		if treeCtx.Err() != nil && err == treeCtx.Err() {
			return nil
		}
		return err
	})
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		defer stopTree()
		<-gctx.Done()
		cancelRequests()
		sctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		err := srv.Shutdown(sctx)
		s.drain()
		return err
	})
	err = g.Wait() // nil when stopped as asked: a signal or -duration
	fmt.Fprintf(stdout, "service: stopped: %d requests served, %d events stored\n", s.served.Load(), s.stored.Load())
	return err
}

// service is what the handlers use.
type service struct {
	app    *supervisor.Supervisor
	hits   actor.Ref[hitMsg]
	stats  actor.Ref[statsMsg]
	render *pool.Pool[renderReq]
	ingest *pipeline.Pipeline
	inlet  *pipeline.Inlet[line]

	cfg    config
	lines  atomic.Uint64 // numbers the event lines
	served atomic.Uint64 // copies of the counts, for the closing line
	stored atomic.Uint64
}

// build starts the tree under the root supervisor /app.
func build(sys *actor.System, cfg config) (*service, error) {
	s := &service{cfg: cfg}
	render, renderSpec, err := pool.Spec("render", newRenderer, pool.WithWorkers(3), pool.WithMailbox(16))
	if err != nil {
		return nil, err
	}
	s.render = render
	app, err := supervisor.Start(sys, "app", []supervisor.ChildSpec{
		supervisor.NewWorker("hits", newHits, actor.WithKind("hits")),
		supervisor.NewWorker("stats", func() actor.Actor[statsMsg] { return newStats(s) }, actor.WithKind("stats")),
		renderSpec,
	}, supervisor.WithStrategy(supervisor.OneForOne), supervisor.WithIntensity(10, time.Minute))
	if err != nil {
		return nil, err
	}
	s.app = app
	// A Ref of a supervised child survives its restarts: look it up once.
	s.hits, _ = supervisor.LookupChild[hitMsg](app, "hits")
	s.stats, _ = supervisor.LookupChild[statsMsg](app, "stats")

	// The pipeline's sink delivers to /app/stats, so it is built once
	// that Ref exists and added to the running tree with StartChild.
	p := pipeline.New(pipeline.WithName("events"))
	lines, inlet := pipeline.FromRef[line](p, "in", 64)
	events := pipeline.Map(lines, "parse", parse(cfg.parsed), pipeline.WithWorkers(2))
	pipeline.ToRef(events, "store", s.stats, func(e event, ack func(error)) statsMsg {
		return statsMsg{event: e, ack: ack}
	})
	s.ingest, s.inlet = p, inlet
	spec := p.Spec("ingest")
	spec.Restart = supervisor.Transient // a failed run restarts; a drained one ends
	if err := app.StartChild(context.Background(), spec); err != nil {
		_ = app.Stop(context.Background())
		return nil, err
	}
	return s, nil
}

// drain closes the inlet, so that the stream ends after the lines it
// accepted, and waits (bounded) until the run delivered them.
func (s *service) drain() {
	if s.cfg.draining != nil {
		s.cfg.draining()
	}
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	if err := s.inlet.Close(ctx); err == nil {
		_ = s.ingest.Wait(ctx) // the run's result: nil once drained
	}
}

// counted tells /app/hits of every request the handler serves.
func (s *service) counted(route string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = s.hits.TryTell(hitMsg{route: route}) // a full mailbox drops the count, not the request
		s.served.Add(1)
		h(w, r)
	})
}

// handleRender asks the pool to render the body.
func (s *service) handleRender(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<10))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	crash := r.URL.Query().Get("crash") == "1"
	out, err := pool.Ask(ctx, s.render, func(reply actor.Reply[string]) renderReq {
		return renderReq{text: string(body), crash: crash, reply: reply}
	})
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, out)
}

// handleEvents tells the pipeline's inlet one item per non-blank line.
// The inlet's Ref is the same for every run of the pipeline: after a
// restart of /app/ingest it delivers to the new run's inlet actor; while
// the pipeline is down it refuses items (actor.ErrStopped), and the
// client gets a 503.
func (s *service) handleEvents(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	sc := bufio.NewScanner(io.LimitReader(r.Body, 64<<10))
	n := 0
	for sc.Scan() {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		// Tell waits while the inlet is full: backpressure reaches the client.
		if err := s.inlet.Ref().Tell(ctx, line{id: s.lines.Add(1), text: text}); err != nil {
			http.Error(w, fmt.Sprintf("accepted %d, then: %v", n, err), http.StatusServiceUnavailable)
			return
		}
		n++
	}
	if err := sc.Err(); err != nil {
		http.Error(w, fmt.Sprintf("accepted %d, then: %v", n, err), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintf(w, "accepted %d\n", n)
}

// Stats is the body of GET /stats.
type Stats struct {
	Requests map[string]uint64 `json:"requests"` // by route, this request included
	Events   map[string]uint64 `json:"events"`   // stored, by kind
}

// handleStats asks /app/hits and /app/stats for their counts.
func (s *service) handleStats(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var st Stats
	var err error
	if st.Requests, err = actor.Ask(ctx, s.hits, func(reply actor.Reply[map[string]uint64]) hitMsg {
		return hitMsg{reply: reply}
	}); err == nil {
		st.Events, err = actor.Ask(ctx, s.stats, func(reply actor.Reply[map[string]uint64]) statsMsg {
			return statsMsg{query: reply}
		})
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(st)
}

// hitMsg counts a request of a route, or, with a reply, asks for the
// counts.
type hitMsg struct {
	route string
	reply actor.Reply[map[string]uint64]
}

// newHits is /app/hits: it counts the requests by route.
func newHits() actor.Actor[hitMsg] {
	counts := map[string]uint64{}
	return actor.Func[hitMsg](func(ctx actor.Context, m hitMsg) error {
		if m.reply.Valid() {
			return m.reply.Send(ctx, copyCounts(counts))
		}
		counts[m.route]++
		return nil
	})
}

// statsMsg is an event to store (acked by ack), or, with a query, asks
// for the counts.
type statsMsg struct {
	event event
	ack   func(error)
	query actor.Reply[map[string]uint64]
}

// newStats is /app/stats, the pipeline's sink: it counts the events by
// kind and acknowledges each.
func newStats(s *service) actor.Actor[statsMsg] {
	counts := map[string]uint64{}
	return actor.Func[statsMsg](func(ctx actor.Context, m statsMsg) error {
		if m.query.Valid() {
			return m.query.Send(ctx, copyCounts(counts))
		}
		counts[m.event.kind]++
		s.stored.Add(1)
		m.ack(nil) // now the pipeline counts the item done
		return nil
	})
}

func copyCounts(m map[string]uint64) map[string]uint64 {
	c := make(map[string]uint64, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// renderReq is a request to the render pool.
type renderReq struct {
	text  string
	crash bool
	reply actor.Reply[string]
}

// newRenderer is a worker of /app/render: it answers with its name and
// the text in upper case. A crash request panics on its first delivery;
// the restarted worker gets it again (attempt 2) and answers.
func newRenderer() actor.Actor[renderReq] {
	return actor.Func[renderReq](func(ctx actor.Context, m renderReq) error {
		if m.crash && ctx.Attempt() == 1 {
			panic("render: crash requested")
		}
		return m.reply.Send(ctx, ctx.Self().Name()+": "+strings.ToUpper(m.text))
	})
}

// line is an item of the events pipeline: a line of a POST /events body.
type line struct {
	id   uint64
	text string
}

// event is a parsed line: its kind is the first word, in lower case.
type event struct {
	id   uint64
	kind string
}

// parse returns the function of the parse stage. A line "crash" makes the
// worker panic the first time it sees it: the stage supervisor restarts
// the worker, which retries the item (attempt 2 of pipeline.DefaultMaxAttempts).
func parse(hook func(context.Context, string) error) func(context.Context, line) (event, error) {
	var mu sync.Mutex
	crashed := map[uint64]bool{}
	return func(ctx context.Context, l line) (event, error) {
		kind := strings.ToLower(strings.Fields(l.text)[0])
		if kind == "crash" {
			mu.Lock()
			first := !crashed[l.id]
			if first {
				crashed[l.id] = true
			} else {
				delete(crashed, l.id) // the retry: forget the line
			}
			mu.Unlock()
			if first {
				panic("parse: crash requested")
			}
		}
		if hook != nil {
			if err := hook(ctx, l.text); err != nil {
				return event{}, err
			}
		}
		return event{id: l.id, kind: kind}, nil
	}
}
