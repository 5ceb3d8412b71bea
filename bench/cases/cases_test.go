package cases_test

import (
	"flag"
	"runtime"
	"testing"
	"time"

	"github.com/troupe-go/troupe/bench/cases"
)

// benchCase runs the named case for every implementation as sub-benchmarks
// named after the implementation, e.g. BenchmarkAsk/protoactor.
func benchCase(b *testing.B, name string) {
	for _, c := range cases.List(false) {
		if c.Name != name {
			continue
		}
		for _, impl := range cases.Impls {
			f := c.Func(impl)
			if f == nil {
				continue
			}
			b.Run(impl, func(b *testing.B) {
				b.ReportAllocs()
				f(b)
			})
		}
		return
	}
	b.Fatalf("no case %q", name)
}

func BenchmarkTell1to1(b *testing.B)         { benchCase(b, "tell-1to1") }
func BenchmarkTell2to1(b *testing.B)         { benchCase(b, "tell-2to1") }
func BenchmarkTell4to1(b *testing.B)         { benchCase(b, "tell-4to1") }
func BenchmarkPool4Workers(b *testing.B)     { benchCase(b, "pool-4workers") }
func BenchmarkAsk(b *testing.B)              { benchCase(b, "ask") }
func BenchmarkPingPong(b *testing.B)         { benchCase(b, "pingpong") }
func BenchmarkSpawnStop(b *testing.B)        { benchCase(b, "spawn-stop") }
func BenchmarkIdleBytes100k(b *testing.B)    { benchCase(b, "idle-bytes-100k") }
func BenchmarkIdleBytes1M(b *testing.B)      { benchCase(b, "idle-bytes-1m") }
func BenchmarkIdleGoroutines1M(b *testing.B) { benchCase(b, "idle-goroutines-1m") }
func BenchmarkSpawn100kHooks(b *testing.B)   { benchCase(b, "spawn-100k-hooks") }
func BenchmarkSpawn100kHooksShutdown(b *testing.B) {
	benchCase(b, "spawn-100k-hooks-shutdown")
}
func BenchmarkSpawn100kHooksStopAll(b *testing.B) { benchCase(b, "spawn-100k-hooks-stopall") }
func BenchmarkIdleHooksBytes100k(b *testing.B)    { benchCase(b, "idle-hooks-bytes-100k") }
func BenchmarkSkynet(b *testing.B)                { benchCase(b, "skynet") }

// BenchmarkRestartLatency reports both p50-ns and p99-ns: the two
// restart-latency cases run the same benchmark.
func BenchmarkRestartLatency(b *testing.B) { benchCase(b, "restart-latency-p50") }
func BenchmarkRestartsPerSec(b *testing.B) { benchCase(b, "restarts-per-sec") }
func BenchmarkRestForOne10(b *testing.B)   { benchCase(b, "rest-for-one-10") }
func BenchmarkPipeline4Stage(b *testing.B) { benchCase(b, "pipeline-4stage") }
func BenchmarkPipeline4StageUnbuffered(b *testing.B) {
	benchCase(b, "pipeline-4stage-unbuffered")
}

// smokeIters is the b.N every case runs with in TestCasesRun.
const smokeIters = "10x"

// TestCasesRun runs every case of every implementation once, with b.N = 10,
// the idle cases at cases.SmokeIdleActors actors and the pipeline cases at
// cases.SmokePipelineItems items, to catch breakage
// without measuring anything. A case that fails reports an empty result
// (testing.Benchmark discards its message); run it with -bench to see why.
// A case that hangs fails the test at the test's deadline with every
// goroutine's stack.
func TestCasesRun(t *testing.T) {
	bt := flag.Lookup("test.benchtime")
	old := bt.Value.String()
	if err := bt.Value.Set(smokeIters); err != nil {
		t.Fatal(err)
	}
	defer bt.Value.Set(old)

	budget := 2 * time.Minute
	if d, ok := t.Deadline(); ok {
		budget = time.Until(d) - 5*time.Second
	}
	deadline := time.NewTimer(budget)
	defer deadline.Stop()

	for _, c := range cases.List(true) {
		for _, impl := range cases.Impls {
			f := c.Func(impl)
			if f == nil {
				continue
			}
			res := make(chan testing.BenchmarkResult, 1)
			go func() { res <- testing.Benchmark(f) }()
			var r testing.BenchmarkResult
			select {
			case r = <-res:
			case <-deadline.C:
				buf := make([]byte, 1<<20)
				t.Fatalf("%s/%s did not finish before the test deadline; goroutines:\n%s",
					c.Name, impl, buf[:runtime.Stack(buf, true)])
			}
			if r.N == 0 {
				t.Errorf("%s/%s failed (empty result); run go test -bench for its message", c.Name, impl)
				continue
			}
			v := c.Value(r)
			if v <= 0 && c.Unit != "goroutines" {
				t.Errorf("%s/%s = %v %s; want > 0", c.Name, impl, v, c.Unit)
			}
			t.Logf("%s/%s: %.4g %s", c.Name, impl, v, c.Unit)
		}
	}
}
