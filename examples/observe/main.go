// Observe: a small service under a chaos monkey, with everything troupe
// shows of itself wired in: the live supervision-tree view, Prometheus
// metrics and zap logs.
//
// The service "shop" runs one supervision tree, with a pipeline in it:
//
//	/app            one_for_one over the three subtrees and the pipeline
//	  /app/api      one_for_one: the handlers users, orders, payments
//	  /app/cache    one_for_all: store and index restart together
//	  /app/outbox   one_for_one with a restart backoff: mailer
//	  /app/orders   the orders pipeline, a child (Pipeline.Spec):
//	                source → price (2 workers) → ledger, its stage
//	                workers at /app/orders/orders/<stage>/w<i>
//
// A traffic loop sends every worker a request each tick, and a seeded
// chaos monkey (package chaos) kills a worker now and then, so the view
// shows restarts, a backoff countdown and the cache group restarting as
// one; every 97th order fails to price on every attempt and ends in the
// pipeline's dead letters. The zap production logger prints each
// failure, restart and backoff with its failure_id.
//
// The program serves, on its own listener (loopback by default):
//
//	/debug/troupe/          treeview.Handler: the page, ?format=json, /events (SSE)
//	/metrics                the troupe_* metrics (prom.NewCollector on its own registry)
//
// and stops cleanly on SIGINT or SIGTERM, or after -duration:
//
//	go run ./examples/observe [-addr 127.0.0.1:7070] [-chaos-every 1s] [-duration 0] [-seed 1]
//
// The pipeline runs on the service's System, as a child of /app
// (Pipeline.Spec), so
// the view shows its stage workers in place in the tree, the
// troupe_stage_* metrics its stages, and its workers' failures and
// restarts are events, log lines and metrics of the service like any
// other. See docs/observability.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/chaos"
	"github.com/troupe-go/troupe/mailbox"
	"github.com/troupe-go/troupe/pipeline"
	"github.com/troupe-go/troupe/prom"
	"github.com/troupe-go/troupe/strategy"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/treeview"
)

// config is what the flags set.
type config struct {
	Addr       string        // listen address
	Duration   time.Duration // stop after this long; 0: at a signal only
	ChaosEvery time.Duration // a kill about this often; 0: no chaos
	Tick       time.Duration // the traffic loop's interval
	Seed       uint64        // the monkey's seed
	Log        *zap.Logger

	// ready, if set, is called with the listener's address once the
	// service serves (tests use it with -addr 127.0.0.1:0).
	ready func(addr string)
}

func defaultConfig() config {
	return config{
		Addr:       "127.0.0.1:7070",
		ChaosEvery: time.Second,
		Tick:       20 * time.Millisecond,
		Seed:       1,
	}
}

func (c config) validate() error {
	switch {
	case c.Duration < 0:
		return fmt.Errorf("-duration %v: want 0 (until a signal) or more", c.Duration)
	case c.ChaosEvery < 0:
		return fmt.Errorf("-chaos-every %v: want 0 (no chaos) or more", c.ChaosEvery)
	case c.Tick <= 0:
		return fmt.Errorf("-tick %v: want a positive interval", c.Tick)
	}
	return nil
}

func main() {
	cfg := defaultConfig()
	fs := flag.NewFlagSet("observe", flag.ExitOnError)
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address of the tree view and /metrics (port 0: any free port)")
	fs.DurationVar(&cfg.Duration, "duration", 0, "stop after this long (0: run until SIGINT or SIGTERM)")
	fs.DurationVar(&cfg.ChaosEvery, "chaos-every", cfg.ChaosEvery, "kill a worker about this often (0: no chaos)")
	fs.DurationVar(&cfg.Tick, "tick", cfg.Tick, "interval of the traffic loop")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the chaos monkey")
	_ = fs.Parse(os.Args[1:])
	log, err := zap.NewProduction()
	if err != nil {
		fmt.Fprintln(os.Stderr, "observe:", err)
		os.Exit(2)
	}
	defer func() { _ = log.Sync() }()
	cfg.Log = log

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		log.Error("observe stopped", zap.Error(err))
		_ = log.Sync()
		os.Exit(1)
	}
}

// request is what the traffic loop sends every worker.
type request struct{ n uint64 }

// worker is every worker of the tree: it counts what it handles.
type worker struct{ handled *atomic.Uint64 }

func (w *worker) Receive(actor.Context, request) error {
	w.handled.Add(1)
	return nil
}

// run serves the service until ctx ends or cfg.Duration passes, then
// stops it: an error means it could not start, or its tree gave up.
func run(ctx context.Context, cfg config, stdout io.Writer) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	log := cfg.Log
	if log == nil {
		log = zap.NewNop()
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

	// The monkey kills workers of the three subtrees about once per
	// ChaosEvery, and pipeline stage workers a quarter as often. A kill
	// strikes a receive: the message is redelivered to the restarted
	// worker. (Not "/app/*/*": that would match the pipeline's root
	// supervisor /app/orders/orders too.)
	var rules []chaos.Rule
	if cfg.ChaosEvery > 0 {
		perSecond := float64(time.Second) / float64(cfg.ChaosEvery)
		for _, sub := range []string{"api", "cache", "outbox"} {
			rules = append(rules, chaos.Rule{Kind: chaos.Kill, Pattern: "/app/" + sub + "/*", PerSecond: perSecond / 3})
		}
		rules = append(rules, chaos.Rule{Kind: chaos.Kill, Pattern: "/app/orders/orders/*/*", PerSecond: perSecond / 4})
	}
	monkey, err := chaos.New(cfg.Seed, rules...)
	if err != nil {
		return err
	}

	sys := actor.NewSystem(actor.WithName("shop"), actor.WithLogger(log), actor.WithFaultInjector(monkey))
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := sys.Shutdown(sctx); err != nil {
			log.Warn("shutdown", zap.Error(err))
		}
	}()

	var handled atomic.Uint64
	spec := func(id, kind string) supervisor.ChildSpec {
		return supervisor.NewWorker(id, func() actor.Actor[request] { return &worker{handled: &handled} },
			actor.WithKind(kind), actor.WithMailbox(64, mailbox.DropNewest))
	}
	api := supervisor.NewSupervisor("api",
		[]supervisor.ChildSpec{spec("users", "handler"), spec("orders", "handler"), spec("payments", "handler")},
		supervisor.WithStrategy(supervisor.OneForOne), supervisor.WithIntensity(10, 10*time.Second))
	cache := supervisor.NewSupervisor("cache",
		[]supervisor.ChildSpec{spec("store", "cache"), spec("index", "cache")},
		supervisor.WithStrategy(supervisor.OneForAll), supervisor.WithIntensity(10, 10*time.Second))
	outbox := supervisor.NewSupervisor("outbox", []supervisor.ChildSpec{spec("mailer", "mailer")},
		supervisor.WithStrategy(supervisor.OneForOne), supervisor.WithIntensity(10, 10*time.Second),
		supervisor.WithBackoff(strategy.Backoff{Min: 200 * time.Millisecond, Max: 3 * time.Second, Factor: 2, Jitter: 0.2, ResetAfter: 5 * time.Second}))
	p, orders := ordersPipeline(cfg, log)
	top, err := supervisor.Start(sys, "app", []supervisor.ChildSpec{api, cache, outbox, orders},
		supervisor.WithStrategy(supervisor.OneForOne), supervisor.WithIntensity(5, 30*time.Second))
	if err != nil {
		return err
	}
	var refs []actor.Ref[request]
	for _, sub := range []struct {
		name string
		ids  []string
	}{{"api", []string{"users", "orders", "payments"}}, {"cache", []string{"store", "index"}}, {"outbox", []string{"mailer"}}} {
		s, ok := supervisor.LookupSupervisor(top, sub.name)
		if !ok {
			return fmt.Errorf("no supervisor %s", sub.name)
		}
		for _, id := range sub.ids {
			r, ok := supervisor.LookupChild[request](s, id)
			if !ok {
				return fmt.Errorf("no worker %s/%s", sub.name, id)
			}
			refs = append(refs, r) // a Ref survives its actor's restarts
		}
	}

	defer func() { // on an early return; a no-op after the Stop below
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = top.Stop(sctx)
	}()

	reg := prometheus.NewRegistry()
	if err := reg.Register(prom.NewCollector(sys)); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/debug/troupe/", http.StripPrefix("/debug/troupe", treeview.Handler(sys)))
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/{$}", http.RedirectHandler("/debug/troupe/", http.StatusFound))

	// Requests run on baseCtx, cancelled before Shutdown so that open
	// /events streams end instead of holding it up.
	baseCtx, cancelRequests := context.WithCancel(context.Background())
	defer cancelRequests()
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
	}
	serveErr := make(chan error, 1)
	// Owner: run; it ends when srv.Shutdown (below) closes the listener.
	go func() { serveErr <- srv.Serve(ln) }()

	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "observe: service %q serving on %s\n", "shop", base)
	fmt.Fprintf(stdout, "  tree view  %s/debug/troupe/\n", base)
	fmt.Fprintf(stdout, "  JSON       %s/debug/troupe/?format=json\n", base)
	fmt.Fprintf(stdout, "  events     %s/debug/troupe/events\n", base)
	fmt.Fprintf(stdout, "  metrics    %s/metrics\n", base)
	if cfg.ChaosEvery > 0 {
		fmt.Fprintf(stdout, "  chaos      a worker killed about every %v (seed %d)\n", cfg.ChaosEvery, cfg.Seed)
	}
	if cfg.Duration > 0 {
		fmt.Fprintf(stdout, "  stopping after %v (or at Ctrl-C)\n", cfg.Duration)
	} else {
		fmt.Fprintln(stdout, "  Ctrl-C to stop")
	}
	if cfg.ready != nil {
		cfg.ready(ln.Addr().String())
	}

	start := time.Now()
	var wg sync.WaitGroup
	trafficCtx, stopTraffic := context.WithCancel(ctx)
	wg.Add(1)
	// Owner: run; it ends when trafficCtx does, and run waits for it.
	go func() {
		defer wg.Done()
		traffic(trafficCtx, cfg.Tick, refs)
	}()

	var runErr error
	select {
	case <-ctx.Done():
	case <-top.Done():
		// A failed run of the pipeline is a failure of /app/orders,
		// which /app restarts: only the tree giving up ends the service.
		runErr = fmt.Errorf("the supervision tree gave up: %w", top.Wait(context.Background()))
	case err := <-serveErr:
		runErr = fmt.Errorf("serve: %w", err)
	}

	// Stop: no more faults and traffic, then the listener, then the
	// pipeline drains (its run ends with nil, which ends the Transient
	// child /app/orders), then the tree stops, each bounded.
	monkey.Disarm()
	stopTraffic()
	wg.Wait()
	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cancelRequests()
	if err := srv.Shutdown(stopCtx); err != nil {
		runErr = errors.Join(runErr, fmt.Errorf("http shutdown: %w", err))
	}
	if err := p.Stop(stopCtx); err != nil && !errors.Is(err, context.Canceled) {
		log.Warn("orders pipeline", zap.Error(err))
	}
	if err := top.Stop(stopCtx); err != nil && runErr == nil {
		runErr = fmt.Errorf("stop: %w", err)
	}
	fmt.Fprintf(stdout, "observe: stopped after %.1fs: %d requests handled, %d workers killed by the monkey\n",
		time.Since(start).Seconds(), handled.Load(), monkey.Count(chaos.Kill))
	return runErr
}

// traffic sends every worker one request per tick until ctx ends, each
// tick starting with the next worker: the monkey kills the first worker
// it sees after a fault is due, so every worker gets its share. A full
// mailbox (a worker in backoff) drops the request; that is counted.
func traffic(ctx context.Context, tick time.Duration, refs []actor.Ref[request]) {
	t := time.NewTicker(tick)
	defer t.Stop()
	var n uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n++
		for i := range refs {
			r := refs[(uint64(i)+n)%uint64(len(refs))]
			_ = r.TryTell(request{n: n}) // dropped when full; counted by the mailbox
		}
	}
}

// order is an item of the orders pipeline.
type order struct {
	id    uint64
	cents int64
}

// ordersPipeline builds the orders pipeline and returns it with the spec
// of the child of /app that runs it. The child is Transient: a failed run
// is restarted, the run drained at the end is not.
func ordersPipeline(cfg config, log *zap.Logger) (*pipeline.Pipeline, supervisor.ChildSpec) {
	p := pipeline.New(pipeline.WithName("orders"), pipeline.WithLogger(log.With(zap.String("pipeline", "orders"))))
	src := pipeline.FromFunc(p, "source", func(ctx context.Context, emit func(order) error) error {
		t := time.NewTicker(cfg.Tick)
		defer t.Stop()
		for id := uint64(1); ; id++ {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
			if err := emit(order{id: id}); err != nil {
				return err
			}
		}
	})
	priced := pipeline.Map(src, "price", func(_ context.Context, o order) (order, error) {
		if o.id%97 == 0 {
			return o, fmt.Errorf("order %d: unknown sku", o.id) // poison: dead-lettered after 3 attempts
		}
		o.cents = int64(o.id%50+1) * 100
		return o, nil
	}, pipeline.WithWorkers(2))
	var total atomic.Int64
	pipeline.ToFunc(priced, "ledger", func(_ context.Context, o order) error {
		total.Add(o.cents)
		return nil
	})
	spec := p.Spec("orders")
	spec.Restart = supervisor.Transient
	return p, spec
}
