package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/troupe-go/troupe/treeview"
)

func TestMain(m *testing.M) {
	if os.Getenv(nodeEnv) != "" {
		os.Exit(nodeMain(os.Stdout)) // a child node of a -nodes 2 test run
	}
	goleak.VerifyTestMain(m)
}

// short is a run of a few thousand items with many kills, small enough
// for a test (also under -race).
func short(seed uint64) config {
	cfg := defaultConfig()
	cfg.Items = 4000
	cfg.Users = 50
	cfg.KillEvery = 40 // about 100 kills
	cfg.Poison = 0.01
	cfg.Seed = seed
	cfg.Timeout = 20 * time.Second
	cfg.Progress = 0
	cfg.leakWait = 3 * time.Second
	return cfg
}

// runOK runs cfg and returns the result and stdout. It logs stderr (the
// goroutine dump of a run that timed out) if the run failed.
func runOK(t *testing.T, cfg config) (*result, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	res, err := run(context.Background(), cfg, &out, &errOut)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK && errOut.Len() > 0 {
		t.Logf("stderr:\n%s", errOut.String())
	}
	return res, out.String()
}

// lastJSON parses the last line of the report.
func lastJSON(t *testing.T, out string) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatalf("last line is not JSON: %v\n%s", err, out)
	}
	return m
}

func TestShortRuns(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		res, out := runOK(t, short(seed))
		if !res.OK {
			t.Fatalf("seed %d failed:\n%s", seed, out)
		}
		if res.Kills < 50 || res.Restarts != res.Kills || res.PoisonExpected == 0 ||
			res.PoisonFound != res.PoisonExpected || res.Out+res.DeadLettered != res.Items {
			t.Fatalf("seed %d: unexpected counts:\n%s", seed, out)
		}
		j := lastJSON(t, out)
		for _, k := range []string{"items", "out", "dead_lettered", "poison_expected", "lost", "duplicates",
			"restarts", "leaked_goroutines", "aggregates_ok", "items_per_sec"} {
			if _, ok := j[k]; !ok {
				t.Errorf("JSON lacks %q: %v", k, j)
			}
		}
		if j["items"] != float64(4000) || j["lost"] != float64(0) || j["aggregates_ok"] != true {
			t.Errorf("JSON %v", j)
		}
	}
}

// The same seed injects the same kills at the same sites: InjectItem
// decides by item id, whatever the workers' timing.
func TestSameSeedSameKills(t *testing.T) {
	a, _ := runOK(t, short(9))
	b, _ := runOK(t, short(9))
	if a.Kills != b.Kills || a.Duplicates != b.Duplicates || len(a.KillsBySite) != len(b.KillsBySite) {
		t.Fatalf("seed 9 twice: kills %v then %v", a.KillsBySite, b.KillsBySite)
	}
	for site, n := range a.KillsBySite {
		if b.KillsBySite[site] != n {
			t.Fatalf("seed 9 twice: kills %v then %v", a.KillsBySite, b.KillsBySite)
		}
	}
}

func TestNoKills(t *testing.T) {
	cfg := short(4)
	cfg.KillEvery = 0
	res, out := runOK(t, cfg)
	if !res.OK || res.Kills != 0 || res.Restarts != 0 || res.Duplicates != 0 {
		t.Fatalf("run without kills:\n%s", out)
	}
}

func TestJSONOnly(t *testing.T) {
	cfg := short(5)
	cfg.JSON = true
	_, out := runOK(t, cfg)
	if strings.Count(out, "\n") != 1 {
		t.Fatalf("-json printed more than one line:\n%s", out)
	}
	lastJSON(t, out)
}

// The checks can fail: a writer that drops items, an aggregator that
// miscounts, a goroutine left behind each fail the run.
func TestBrokenRunsFail(t *testing.T) {
	cases := []struct {
		name  string
		setup func(*config)
		bad   func(*result) bool
	}{
		{"lost items", func(c *config) { c.loseEvery = 997 }, func(r *result) bool { return r.Lost > 0 }},
		{"wrong aggregate", func(c *config) { c.corruptUser = true }, func(r *result) bool { return !r.AggregatesOK }},
		{"leaked goroutine", func(c *config) {
			c.leak = make(chan struct{})
			c.leakWait = 100 * time.Millisecond
		}, func(r *result) bool { return r.LeakedGoroutines > 0 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := short(6)
			tc.setup(&cfg)
			res, out := runOK(t, cfg)
			if cfg.leak != nil {
				close(cfg.leak)
			}
			if res.OK || !tc.bad(res) || !strings.Contains(out, "FAIL") || lastJSON(t, out)["ok"] != false {
				t.Fatalf("a broken run passed:\n%s", out)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	for _, f := range []func(*config){
		func(c *config) { c.Items = 0 },
		func(c *config) { c.Workers = 0 },
		func(c *config) { c.KillEvery = -1 },
		func(c *config) { c.Poison = 2 },
		func(c *config) { c.Timeout = 0 },
		func(c *config) { c.Nodes = 3 },
		func(c *config) { c.Nodes, c.Serve = 2, "127.0.0.1:0" },
	} {
		cfg := short(1)
		f(&cfg)
		if _, err := run(context.Background(), cfg, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
}

// TestServe: with -serve the run serves its live tree view while the
// pipeline runs (the JSON shows the pipeline and its stages), and the
// listener is gone when the run returns; the run still passes.
func TestServe(t *testing.T) {
	cfg := short(7)
	cfg.Serve = "127.0.0.1:0"
	client := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	var url string
	var page treeview.Page
	var getErr error
	cfg.serving = func(u string) {
		url = u
		resp, err := client.Get(u + "?format=json")
		if err != nil {
			getErr = err
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			getErr = fmt.Errorf("GET %s: %s", u, resp.Status)
			return
		}
		getErr = json.NewDecoder(resp.Body).Decode(&page)
	}
	var errOut bytes.Buffer
	res, err := run(context.Background(), cfg, io.Discard, &errOut)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK {
		t.Errorf("the run failed with -serve:\n%s", errOut.String())
	}
	if url == "" || getErr != nil {
		t.Fatalf("view %q: %v", url, getErr)
	}
	if !strings.Contains(errOut.String(), "chaos: watch the run at "+url) {
		t.Errorf("stderr does not give the view's URL %s:\n%s", url, errOut.String())
	}
	if page.System != "chaos" || len(page.Pipelines) != 1 || page.Pipelines[0].Name != "chaos" {
		t.Fatalf("page system %q pipelines %+v; want the pipeline chaos", page.System, page.Pipelines)
	}
	var stages []string
	for _, s := range page.Pipelines[0].Stages {
		stages = append(stages, s.Name)
	}
	if fmt.Sprint(stages) != "[source decode aggregate write]" {
		t.Errorf("stages %v; want [source decode aggregate write]", stages)
	}
	if _, err := client.Get(url); err == nil {
		t.Errorf("the view still serves after the run returned")
	}
}

func TestServeBadAddress(t *testing.T) {
	cfg := short(1)
	cfg.Serve = "256.0.0.1:0"
	if _, err := run(context.Background(), cfg, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "-serve") {
		t.Fatalf("run with -serve 256.0.0.1:0: %v; want an error naming -serve", err)
	}
}

// Longer run of TestTwoNodes: go test -race -run TestTwoNodes -twonode.items 200000 .
var twoNodeItems = flag.Int("twonode.items", 4000, "items of TestTwoNodes")

// twoNode is short with -nodes 2: the aggregation on a child process of
// the test binary (TestMain runs nodeMain there), SIGKILLed once.
func twoNode(seed uint64) config {
	cfg := short(seed)
	cfg.Nodes = 2
	cfg.Items = *twoNodeItems
	cfg.Timeout = max(20*time.Second, time.Duration(cfg.Items)*50*time.Microsecond)
	cfg.checkpoint = 20 * time.Millisecond
	return cfg
}

// TestTwoNodes: -nodes 2 with kills on both nodes and one SIGKILL of the
// child node loses nothing, and the per-user totals, folded on the child
// from checkpointed state, are exact; the items after the checkpoint were
// sent again to the new child process.
func TestTwoNodes(t *testing.T) {
	res, out := runOK(t, twoNode(11))
	if !res.OK || res.Lost != 0 || !res.AggregatesOK || res.Nodes != 2 || res.RemoteSIGKILLs != 1 ||
		res.Resent == 0 || res.RemoteKills == 0 || res.Kills == 0 || res.Out+res.DeadLettered != res.Items {
		t.Fatalf("two-node run:\n%s", out)
	}
	j := lastJSON(t, out)
	for _, k := range []string{"lost_in_transit", "resent", "remote_kills", "remote_sigkills"} {
		if _, ok := j[k]; !ok {
			t.Errorf("JSON lacks %q: %v", k, j)
		}
	}
	t.Logf("%s", out)
}

// TestTwoNodesReplaysKeptFails: the checks still bite with -nodes 2: a
// results actor that does not drop the outputs the new child sends again
// (those of the items after its checkpoint, and of batches re-sent after
// a kill) lets duplicates through, and the run fails.
func TestTwoNodesReplaysKeptFails(t *testing.T) {
	cfg := twoNode(12)
	cfg.Items = 2000
	cfg.keepReplays = true
	res, out := runOK(t, cfg)
	if res.OK || res.Duplicates <= res.DuplicatesExpected || lastJSON(t, out)["ok"] != false {
		t.Fatalf("a broken run passed:\n%s", out)
	}
}
