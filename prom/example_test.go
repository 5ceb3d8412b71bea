package prom_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/prom"
	"github.com/troupe-go/troupe/supervisor"
)

// This example registers the collector of a System on a registry of its
// own, serves it with promhttp, crashes a supervised worker twice and
// reads the restarts from the exposition.
func Example() {
	ctx := context.Background()
	sys := actor.NewSystem(actor.WithName("shop"))
	defer sys.Shutdown(ctx)

	reg := prometheus.NewRegistry()
	if err := reg.Register(prom.NewCollector(sys)); err != nil {
		fmt.Println(err)
		return
	}
	// In a service: mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{})).
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})

	events := sys.Subscribe(16)
	defer events.Close()
	spec := supervisor.NewWorker("cache", func() actor.Actor[string] {
		return actor.Func[string](func(actor.Context, string) error { return errors.New("cache corrupted") })
	}, actor.WithKind("cache"), actor.WithMaxAttempts(1))
	sup, err := supervisor.Start(sys, "app", []supervisor.ChildSpec{spec}, supervisor.WithIntensity(3, time.Minute))
	if err != nil {
		fmt.Println(err)
		return
	}
	cache, _ := supervisor.LookupChild[string](sup, "cache")
	for started := 0; started < 3; {
		if e := <-events.Events(); e.Kind == "started" && e.Path == "/app/cache" {
			started++
			if started < 3 {
				_ = cache.Tell(ctx, "get")
			}
		}
	}

	rec := httptest.NewRecorder()
	metrics.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "troupe_actor_restarts_total") && strings.Contains(line, `kind="cache"`) ||
			strings.HasPrefix(line, "troupe_supervisor_restart_") {
			fmt.Println(line)
		}
	}
	// Output:
	// troupe_actor_restarts_total{troupe_actor_kind="cache",troupe_system="shop"} 2
	// troupe_supervisor_restart_limit{troupe_supervisor="app",troupe_system="shop"} 3
	// troupe_supervisor_restart_usage{troupe_supervisor="app",troupe_system="shop"} 2
}
