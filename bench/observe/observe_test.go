package observe

import (
	"flag"
	"testing"
)

// TestVariants runs every case under every variant briefly, so a broken
// variant fails go test rather than the benchmark run.
func TestVariants(t *testing.T) {
	old := flag.Lookup("test.benchtime").Value.String()
	if err := flag.Set("test.benchtime", "200x"); err != nil {
		t.Fatal(err)
	}
	defer flag.Set("test.benchtime", old)
	for _, c := range Cases {
		for _, v := range Variants {
			r := testing.Benchmark(Func(c, v))
			if r.N == 0 {
				t.Errorf("%s/%s: did not run", c, v)
			}
		}
	}
}

func BenchmarkObserve(b *testing.B) {
	for _, c := range Cases {
		for _, v := range Variants {
			b.Run(c+"/"+v, Func(c, v))
		}
	}
}
