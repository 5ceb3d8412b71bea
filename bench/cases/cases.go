// Package cases holds the side-by-side benchmark cases that compare troupe
// with protoactor-go and with plain goroutines and channels.
//
// Each [Case] is one row of the comparison table: a name, the unit of the
// number it reports and one benchmark function per implementation. The
// functions are ordinary func(*testing.B), so the same code runs under
// `go test -bench` (see cases_test.go) and under [testing.Benchmark] in
// bench/compare.
//
// Every case waits for its work to finish before it returns: a receiver
// closes a channel when it has seen the last message, a stop waits until the
// actor is gone. No case sleeps.
//
// # Units
//
//   - ns/msg: time per message sent, the sender count included (tell
//     cases, and pool-4workers: see pool.go).
//   - ns/op: time per request/response or per spawn+stop.
//   - ns/roundtrip: time for one message to go A -> B -> A (pingpong).
//   - B/actor: bytes held per idle actor, measured as the growth of
//     runtime.MemStats HeapAlloc + StackInuse after runtime.GC, divided by
//     the actor count. StackInuse is counted because an idle goroutine's
//     stack is memory the actor holds although it is not heap.
//   - goroutines: goroutines still alive while the actors sit idle.
//   - ns (restart-latency-p50/-p99): a percentile of the time from a
//     worker's panic to the moment its restarted incarnation handles the
//     next message (see restart.go).
//   - restarts/s: restarts completed per second; higher is better
//     ([Case.HigherIsBetter]).
//   - ns/restart: time per rest-for-one restart of a group of 10.
//   - ns/actor: time per actor for a whole spawn+stop of many actors
//     (spawn-100k-hooks, see hooks.go) or a whole skynet tree (skynet.go).
//   - items/s: items through the 4-stage pipeline per second, higher is
//     better (see pipeline.go).
//
// The idle cases also report the other idle metric, so idle-bytes-1m and
// idle-goroutines-1m measure the same thing and show a different column.
// In the same way restart-latency-p50 and restart-latency-p99 run the same
// benchmark and read a different metric of it.
package cases

import (
	"github.com/troupe-go/troupe/pipeline"
	"runtime"
	"testing"
)

// Impls names the implementations in table order.
var Impls = []string{"troupe", "protoactor", "plain"}

// A Case is one benchmark scenario run by each implementation.
type Case struct {
	// Name is the fixed name of the case, such as "tell-1to1".
	Name string
	// Unit is the unit of the number [Case.Value] reads from a result.
	Unit string
	// Metric is the name of the b.ReportMetric value [Case.Value] reads,
	// when it differs from Unit (two cases in the same unit reading two
	// metrics of one benchmark, such as p50-ns and p99-ns). Empty means
	// Unit.
	Metric string
	// HigherIsBetter is true for units where a larger number is better
	// (restarts/s); for every other unit smaller is better.
	HigherIsBetter bool
	// Isolated is true for cases whose numbers depend on what ran before
	// in the process (the Go runtime keeps the descriptors of dead
	// goroutines for reuse, so a second run of a goroutine-backed idle case
	// would not pay for them). bench/compare runs them in a fresh process.
	Isolated bool

	// Troupe, Protoactor and Plain are the benchmark functions. A case
	// may leave one nil when the implementation has no such variant
	// (pipeline-4stage-unbuffered is plain only); its cell stays empty.
	Troupe, Protoactor, Plain func(b *testing.B)
}

// Func returns the benchmark function of the named implementation, or nil
// if impl is not one of [Impls] or the case has no such variant.
func (c Case) Func(impl string) func(b *testing.B) {
	switch impl {
	case "troupe":
		return c.Troupe
	case "protoactor":
		return c.Protoactor
	case "plain":
		return c.Plain
	}
	return nil
}

// Value extracts the case's number from a benchmark result: time per
// iteration for the time units, the reported metric ([Case.Metric], or
// Unit) otherwise. It returns 0 for an empty result (a benchmark that
// failed).
func (c Case) Value(r testing.BenchmarkResult) float64 {
	if r.N == 0 {
		return 0
	}
	switch c.Unit {
	case "ns/msg", "ns/op", "ns/roundtrip", "ns/restart":
		return float64(r.T.Nanoseconds()) / float64(r.N)
	}
	if c.Metric != "" {
		return r.Extra[c.Metric]
	}
	return r.Extra[c.Unit]
}

// Cost returns v as a cost, smaller is better whatever the unit: v itself,
// or 1/v for a case where higher is better. Ratios of costs read the same
// way in every row of a table.
func (c Case) Cost(v float64) float64 {
	if c.HigherIsBetter {
		return 1 / v
	}
	return v
}

// SmokeIdleActors is the actor count that List(true) uses for the idle cases
// in place of 100k and 1M, so a smoke test stays fast.
const SmokeIdleActors = 1000

// List returns every case in table order. With small set, the idle cases
// spawn [SmokeIdleActors] actors instead of their nominal count and the
// pipeline cases move [SmokePipelineItems] items instead of 1M; use it only
// to check that the cases run, not to measure.
func List(small bool) []Case {
	n100k, n1m, items, depth := 100_000, 1_000_000, pipelineItems, 5
	if small {
		n100k, n1m, items, depth = SmokeIdleActors, SmokeIdleActors, SmokePipelineItems, 3
	}
	idle := func(name, unit string, n int) Case {
		return Case{
			Name: name, Unit: unit, Isolated: true,
			Troupe:     func(b *testing.B) { measureIdle(b, n, troupeIdle) },
			Protoactor: func(b *testing.B) { measureIdle(b, n, protoIdle) },
			Plain:      func(b *testing.B) { measureIdle(b, n, plainIdle) },
		}
	}
	return []Case{
		{Name: "tell-1to1", Unit: "ns/msg", Troupe: troupeTell1, Protoactor: protoTell1, Plain: plainTell1},
		{Name: "tell-2to1", Unit: "ns/msg", Troupe: troupeTell2, Protoactor: protoTell2, Plain: plainTell2},
		{Name: "tell-4to1", Unit: "ns/msg", Troupe: troupeTell4, Protoactor: protoTell4, Plain: plainTell4},
		{Name: "pool-4workers", Unit: "ns/msg", Troupe: troupePool, Protoactor: protoPool, Plain: plainPool},
		{Name: "ask", Unit: "ns/op", Troupe: troupeAsk, Protoactor: protoAsk, Plain: plainAsk},
		{Name: "pingpong", Unit: "ns/roundtrip", Troupe: troupePingPong, Protoactor: protoPingPong, Plain: plainPingPong},
		{Name: "spawn-stop", Unit: "ns/op", Troupe: troupeSpawnStop, Protoactor: protoSpawnStop, Plain: plainSpawnStop},
		idle("idle-bytes-100k", "B/actor", n100k),
		idle("idle-bytes-1m", "B/actor", n1m),
		idle("idle-goroutines-1m", "goroutines", n1m),
		{Name: "spawn-100k-hooks", Unit: "ns/actor", Isolated: true,
			Troupe:     func(b *testing.B) { measureSpawnStop(b, n100k, troupeHooks(stopEach)) },
			Protoactor: func(b *testing.B) { measureSpawnStop(b, n100k, protoHooks) },
			Plain:      func(b *testing.B) { measureSpawnStop(b, n100k, plainHooks) }},
		{Name: "spawn-100k-hooks-shutdown", Unit: "ns/actor", Isolated: true,
			Troupe: func(b *testing.B) { measureSpawnStop(b, n100k, troupeHooks(stopShutdown)) }},
		{Name: "spawn-100k-hooks-stopall", Unit: "ns/actor", Isolated: true,
			Troupe: func(b *testing.B) { measureSpawnStop(b, n100k, troupeHooks(stopAll)) }},
		{Name: "idle-hooks-bytes-100k", Unit: "B/actor", Isolated: true,
			Troupe:     func(b *testing.B) { measureIdle(b, n100k, troupeHooks(stopEach)) },
			Protoactor: func(b *testing.B) { measureIdle(b, n100k, protoHooks) },
			Plain:      func(b *testing.B) { measureIdle(b, n100k, plainHooks) }},
		{Name: "skynet", Unit: "ns/actor",
			Troupe:     func(b *testing.B) { troupeSkynet(b, depth) },
			Protoactor: func(b *testing.B) { protoSkynet(b, depth) },
			Plain:      func(b *testing.B) { plainSkynet(b, depth) }},
		{Name: "restart-latency-p50", Unit: "ns", Metric: "p50-ns",
			Troupe: troupeRestartLatency, Protoactor: protoRestartLatency, Plain: plainRestartLatency},
		{Name: "restart-latency-p99", Unit: "ns", Metric: "p99-ns",
			Troupe: troupeRestartLatency, Protoactor: protoRestartLatency, Plain: plainRestartLatency},
		{Name: "restarts-per-sec", Unit: "restarts/s", HigherIsBetter: true,
			Troupe: troupeRestartRate, Protoactor: protoRestartRate, Plain: plainRestartRate},
		{Name: "rest-for-one-10", Unit: "ns/restart",
			Troupe: troupeRestForOne, Protoactor: protoAllForOne, Plain: plainRestForOne},
		{Name: "pipeline-4stage", Unit: "items/s", HigherIsBetter: true,
			Troupe:     func(b *testing.B) { troupePipeline(b, items) },
			Protoactor: func(b *testing.B) { protoPipeline(b, items) },
			Plain:      func(b *testing.B) { plainPipeline(b, items, 1024) }},
		{Name: "pipeline-4stage-batch1", Unit: "items/s", HigherIsBetter: true,
			Troupe: func(b *testing.B) { troupePipeline(b, items, pipeline.WithBatchSize(1)) },
			Plain:  func(b *testing.B) { plainPipeline(b, items, 1024) }},
		{Name: "pipeline-4stage-unbuffered", Unit: "items/s", HigherIsBetter: true,
			Plain: func(b *testing.B) { plainPipeline(b, items, 0) }},
	}
}

// split returns how many of n messages sender i of senders sends: n/senders
// each, the first ones taking the remainder, so the counts add up to n.
func split(n, senders, i int) int {
	k := n / senders
	if i < n%senders {
		k++
	}
	return k
}

// idleSpawner starts n idle actors and returns only once all of them have
// started and sit waiting for a message. The returned function stops them
// all and returns once they are gone. The handles the spawner keeps to reach
// the actors (refs, PIDs, channels) count toward the per-actor cost, since
// a caller has to keep them too.
type idleSpawner func(b *testing.B, n int) (stop func())

// measureIdle spawns n idle actors b.N times and reports, averaged over the
// iterations, the memory ("B/actor") and goroutines ("goroutines") they
// hold. It hides ns/op, which means nothing here.
func measureIdle(b *testing.B, n int, spawn idleSpawner) {
	var bytes, goroutines float64
	for i := 0; i < b.N; i++ {
		before := settle()
		stop := spawn(b, n)
		after := settle()
		bytes += float64(after.mem) - float64(before.mem)
		goroutines += float64(after.goroutines - before.goroutines)
		stop()
	}
	b.ReportMetric(bytes/float64(b.N)/float64(n), "B/actor")
	b.ReportMetric(goroutines/float64(b.N), "goroutines")
	b.ReportMetric(0, "ns/op")
}

type snapshot struct {
	mem        uint64 // HeapAlloc + StackInuse
	goroutines int
}

// settle collects garbage until the goroutine count stops changing (at most
// a few rounds) and then reads memory and goroutines. Goroutines that are
// about to exit (a protoactor mailbox run that just handled Started, a
// stopped actor's loop) get the time of a full GC cycle to do so; no sleep.
func settle() snapshot {
	prev := -1
	for i := 0; i < 10; i++ {
		runtime.GC()
		g := runtime.NumGoroutine()
		if g == prev {
			break
		}
		prev = g
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return snapshot{mem: ms.HeapAlloc + ms.StackInuse, goroutines: runtime.NumGoroutine()}
}
