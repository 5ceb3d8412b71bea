// Command compare runs every benchmark case of package cases for troupe,
// protoactor-go and plain goroutines and channels, and prints the medians
// side by side.
//
// Usage:
//
//	cd bench && go run ./compare [-count 5] [-benchtime 1s] [-run REGEXP] [-json]
//
// Each cell is the median of -count runs of [testing.Benchmark]; the runs of
// the three implementations are interleaved so that a burst of load on the
// machine does not land on one column only. The table's ratio columns
// ("vs protoactor", "vs plain") compare costs: troupe divided by the other
// column for the units where smaller is better, and the other column divided
// by troupe for the units where higher is better (marked ↑, such as
// restarts/s). Below 1 always means troupe did better (faster, lighter, or
// more per second).
//
// Cases marked Isolated (the idle-* cases) run each sample in a fresh
// process that spawns the actors once (-benchtime does not apply to them):
// the Go runtime recycles the descriptors of dead goroutines, so a second
// measurement in the same process would leave out part of what a
// goroutine-backed actor costs, and a million dead goroutines would slow
// down every case after them.
//
// With -json, each case is printed as one JSON object per line,
// {"case":…, "unit":…, "higher_is_better":…, "troupe":…, "protoactor":…,
// "plain":…}, with null for a failed cell or one the case does not have
// (n/a in the table), and the header goes to stderr.
// The JSON values are the medians in the case's unit, never inverted.
//
// With -observe, it prints the observability overhead table instead (see
// package bench/observe): tell-1to1 and ask for troupe alone and with each
// adapter or opt-in instrument, the variants interleaved in each round,
// with each median's ratio to the bare System's.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/troupe-go/troupe/bench/cases"
	"github.com/troupe-go/troupe/bench/observe"
)

// observeTable runs the cases of package observe whose name matches re,
// count rounds of every variant in turn, and prints the medians in ns/op
// (ns/msg for tell) with their ratio to the first variant's.
func observeTable(re *regexp.Regexp, count int) {
	fmt.Printf("%-12s %-12s %10s %10s %10s %10s\n", "case", "variant", "median ns", "min ns", "max ns", "vs none")
	for _, c := range observe.Cases {
		if !re.MatchString(c) {
			continue
		}
		samples := make([][]float64, len(observe.Variants))
		for range count {
			for i, v := range observe.Variants {
				r := testing.Benchmark(observe.Func(c, v))
				if r.N == 0 {
					samples[i] = append(samples[i], math.NaN())
					continue
				}
				samples[i] = append(samples[i], float64(r.T.Nanoseconds())/float64(r.N))
			}
		}
		base := median(samples[0])
		for i, v := range observe.Variants {
			m := median(samples[i])
			fmt.Printf("%-12s %-12s %10s %10s %10s %10s\n", c, v, num(m), num(slices.Min(samples[i])), num(slices.Max(samples[i])), ratio(m, base))
		}
	}
}

func main() {
	testing.Init() // registers the test.* flags testing.Benchmark reads
	count := flag.Int("count", 5, "runs per cell; the table shows the median")
	benchtime := flag.String("benchtime", "1s", "run time or iteration count (Nx) per run, as go test -benchtime")
	run := flag.String("run", "", "run only the cases whose name matches this regexp")
	asJSON := flag.Bool("json", false, "print one JSON object per case instead of a table")
	child := flag.String("child", "", "internal: run case/impl once and print its value")
	obs := flag.Bool("observe", false, "print the observability overhead table instead")
	flag.Parse()

	if *child != "" {
		os.Exit(runChild(*child))
	}
	if err := flag.Set("test.benchtime", *benchtime); err != nil {
		fatalf("-benchtime: %v", err)
	}
	re, err := regexp.Compile(*run)
	if err != nil {
		fatalf("-run: %v", err)
	}
	if *count < 1 {
		fatalf("-count must be at least 1")
	}

	if *obs {
		printHeader(os.Stdout, *count, *benchtime)
		observeTable(re, *count)
		return
	}
	header := os.Stdout
	if *asJSON {
		header = os.Stderr
	}
	printHeader(header, *count, *benchtime)
	if !*asJSON {
		fmt.Printf("%-26s %-13s %14s %14s %14s %14s %10s\n",
			"case", "unit", "troupe", "protoactor-go", "plain", "vs protoactor", "vs plain")
	}
	for _, c := range cases.List(false) {
		if !re.MatchString(c.Name) {
			continue
		}
		samples := make([][]float64, len(cases.Impls))
		for range *count {
			for i, impl := range cases.Impls {
				if c.Func(impl) == nil {
					continue // no such variant: the cell stays empty
				}
				samples[i] = append(samples[i], sample(c, impl))
			}
		}
		med := make([]float64, len(samples))
		for i, s := range samples {
			med[i] = median(s)
		}
		if *asJSON {
			printJSON(c, med)
		} else {
			unit := c.Unit
			if c.HigherIsBetter {
				unit += " ↑"
			}
			fmt.Printf("%-26s %-13s %14s %14s %14s %14s %10s\n", c.Name, unit,
				tableCell(c, 0, med[0]), tableCell(c, 1, med[1]), tableCell(c, 2, med[2]),
				ratio(c.Cost(med[0]), c.Cost(med[1])), ratio(c.Cost(med[0]), c.Cost(med[2])))
		}
	}
}

// sample runs one measurement of c for impl and returns its value, or NaN
// if the benchmark failed.
func sample(c cases.Case, impl string) float64 {
	if !c.Isolated {
		r := testing.Benchmark(c.Func(impl))
		if r.N == 0 {
			return math.NaN()
		}
		return c.Value(r)
	}
	exe, err := os.Executable()
	if err != nil {
		fatalf("%v", err)
	}
	cmd := exec.Command(exe, "-child", c.Name+"/"+impl)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		fmt.Fprintf(os.Stderr, "compare: %s/%s: %v\n", c.Name, impl, err)
		return math.NaN()
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil {
		fmt.Fprintf(os.Stderr, "compare: %s/%s: bad output %q\n", c.Name, impl, out)
		return math.NaN()
	}
	return v
}

// runChild measures "case/impl" once (b.N = 1) and prints its value.
func runChild(spec string) int {
	name, impl, _ := strings.Cut(spec, "/")
	for _, c := range cases.List(false) {
		if c.Name != name || c.Func(impl) == nil {
			continue
		}
		if err := flag.Set("test.benchtime", "1x"); err != nil {
			fatalf("%v", err)
		}
		r := testing.Benchmark(c.Func(impl))
		if r.N == 0 {
			fmt.Fprintf(os.Stderr, "compare: %s failed\n", spec)
			return 1
		}
		fmt.Println(c.Value(r))
		return 0
	}
	fmt.Fprintf(os.Stderr, "compare: no case %q\n", spec)
	return 2
}

func printHeader(w io.Writer, count int, benchtime string) {
	fmt.Fprintf(w, "%s %s/%s GOMAXPROCS=%d NumCPU=%d\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), runtime.NumCPU())
	fmt.Fprintf(w, "troupe %s, protoactor-go %s\n",
		moduleVersion("github.com/troupe-go/troupe"), moduleVersion("github.com/asynkron/protoactor-go"))
	fmt.Fprintf(w, "median of %d runs, -benchtime %s (idle cases: one fresh process per run)\n", count, benchtime)
	fmt.Fprintf(w, "ratios are troupe's cost over the other's (inverted for ↑ units, where higher is better): below 1 means troupe did better\n\n")
}

// moduleVersion reports the version of the dependency path this binary was
// built with, or where it was replaced from.
func moduleVersion(path string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, d := range bi.Deps {
		if d.Path != path {
			continue
		}
		if d.Replace != nil {
			return strings.TrimSpace("=> " + d.Replace.Path + " " + d.Replace.Version)
		}
		return d.Version
	}
	return "unknown"
}

// median returns the median of the values that are not NaN, or NaN if
// there are none.
func median(s []float64) float64 {
	s = slices.DeleteFunc(slices.Clone(s), math.IsNaN)
	if len(s) == 0 {
		return math.NaN()
	}
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// tableCell formats the median of implementation i of c: "n/a" if the case
// has no such variant, else num(v).
func tableCell(c cases.Case, i int, v float64) string {
	if c.Func(cases.Impls[i]) == nil {
		return "n/a"
	}
	return num(v)
}

func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "FAIL"
	case math.Abs(v) >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

// ratio formats the cost ratio a/b; costs come from [cases.Case.Cost].
func ratio(a, b float64) string {
	if math.IsNaN(a) || math.IsNaN(b) || math.IsInf(a, 0) || math.IsInf(b, 0) || b == 0 {
		return "-"
	}
	return strconv.FormatFloat(a/b, 'f', 2, 64) + "x"
}

func printJSON(c cases.Case, med []float64) {
	cell := func(v float64) *float64 {
		if math.IsNaN(v) {
			return nil
		}
		return &v
	}
	line, err := json.Marshal(struct {
		Case           string   `json:"case"`
		Unit           string   `json:"unit"`
		HigherIsBetter bool     `json:"higher_is_better"`
		Troupe         *float64 `json:"troupe"`
		Protoactor     *float64 `json:"protoactor"`
		Plain          *float64 `json:"plain"`
	}{c.Name, c.Unit, c.HigherIsBetter, cell(med[0]), cell(med[1]), cell(med[2])})
	if err != nil {
		fatalf("%v", err)
	}
	fmt.Println(string(line))
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "compare: "+format+"\n", args...)
	os.Exit(2)
}
