package treeview

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/observe"
	"github.com/troupe-go/troupe/strategy"
	"github.com/troupe-go/troupe/supervisor"
)

// worker fails on "fail"; an incarnation after the first of a worker
// with a gate waits for it in Start, which blocks its supervisor.
type worker struct {
	gate  <-chan struct{}
	count *int
}

func (w *worker) Start(actor.Context) error {
	*w.count++
	if w.gate != nil && *w.count > 1 {
		<-w.gate
	}
	return nil
}

func (w *worker) Receive(_ actor.Context, m string) error {
	if m == "fail" {
		return errors.New("boom: " + secret)
	}
	return nil
}

func workerSpec(id string, gate <-chan struct{}) supervisor.ChildSpec {
	n := new(int) // incarnations, touched only by the supervisor starting them
	return supervisor.NewWorker(id, func() actor.Actor[string] { return &worker{gate: gate, count: n} },
		actor.WithMaxAttempts(1), actor.WithKind("treeview.worker"))
}

// TestSystem serves a real System: one failure in a one-for-all
// supervisor of four workers with a backoff shows on the stream as the
// failure, the backoff and four restarts carrying one failure ID; the
// JSON shows the tree; a supervisor stuck in a restart is shown as
// unresponsive within the snapshot timeout.
func TestSystem(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := actor.NewSystem(actor.WithName("shop"))
		defer sys.Shutdown(context.Background())
		gate := make(chan struct{})
		defer close(gate)
		pool := supervisor.NewSupervisor("pool", []supervisor.ChildSpec{
			workerSpec("a", nil), workerSpec("b", nil), workerSpec("c", nil), workerSpec("d", nil)},
			supervisor.WithStrategy(strategy.OneForAll), supervisor.WithIntensity(3, time.Minute),
			supervisor.WithBackoff(strategy.Backoff{Min: time.Second, Max: time.Second}))
		stuck := supervisor.NewSupervisor("stuck", []supervisor.ChildSpec{workerSpec("s", gate)})
		app, err := supervisor.Start(sys, "app", []supervisor.ChildSpec{pool, stuck})
		if err != nil {
			t.Fatal(err)
		}
		h := Handler(sys, WithAuthorize(func(*http.Request) (bool, bool) { return true, false }))

		p := decodePage(t, get(h, "/?format=json"))
		if got := strings.Join(paths(p.Nodes), " "); got != "/app /app/pool /app/pool/a /app/pool/b /app/pool/c /app/pool/d /app/stuck /app/stuck/s" {
			t.Fatalf("tree: %s", got)
		}
		if ps := p.Nodes[0].Children[0].Supervisor; p.System != "shop" || ps == nil || ps.Strategy != "one_for_all" || ps.MaxRestarts != 3 {
			t.Errorf("pool supervisor: %+v", ps)
		}

		w, cancel, done := startStream(h)
		synctest.Wait()
		pl, _ := supervisor.LookupSupervisor(app, "pool")
		b, _ := supervisor.LookupChild[string](pl, "b")
		if err := b.Tell(context.Background(), "fail"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // the failure and the backoff
		time.Sleep(time.Second)
		synctest.Wait() // the restarts
		var fid observe.FailureID
		var got []string
		for _, m := range parseSSE(t, w.bytes()) {
			if m.event != "event" {
				continue
			}
			e := decodeEvent(t, m)
			if e.Kind == "failed" && e.Path == "/app/pool/b" {
				fid = e.FailureID
				if e.Message != "" {
					t.Errorf("failure message %q shown without sensitive access", e.Message)
				}
			}
			if e.FailureID != 0 && e.FailureID == fid {
				got = append(got, e.Kind+":"+e.Path)
			}
		}
		want := "failed:/app/pool/b backoff:/app/pool/b restarted:/app/pool/a restarted:/app/pool/b restarted:/app/pool/c restarted:/app/pool/d"
		if fid == 0 || strings.Join(got, " ") != want {
			t.Errorf("events of the failure %v: %v; want %s", fid, got, want)
		}
		p = decodePage(t, get(h, "/?format=json"))
		bn := p.Nodes[0].Children[0].Children[1]
		if bn.LastFailure == nil || bn.LastFailure.ID != fid || bn.LastFailure.Message != "" || bn.Status != observe.StatusRunning {
			t.Errorf("b after the restart: %+v, last failure %+v", bn, bn.LastFailure)
		}
		if html := get(h, "/").Body.String(); !strings.Contains(html, `data-failure="`+fid.String()+`"`) {
			t.Error("the page does not tie b to its failure")
		}
		cancel()
		<-done

		st, _ := supervisor.LookupSupervisor(app, "stuck")
		s, _ := supervisor.LookupChild[string](st, "s")
		if err := s.Tell(context.Background(), "fail"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // stuck waits in the restart of s
		start := time.Now()
		p = decodePage(t, get(h, "/?format=json"))
		if took := time.Since(start); took > defaultSnapshotTimeout {
			t.Errorf("the snapshot of a stuck supervisor took %v; want at most %v", took, defaultSnapshotTimeout)
		}
		if sn := p.Nodes[0].Children[1]; sn.Supervisor == nil || !sn.Supervisor.Unresponsive || !p.TimedOut {
			t.Errorf("stuck: %+v, timed out %v; want unresponsive", sn.Supervisor, p.TimedOut)
		}
		if html := get(h, "/").Body.String(); !strings.Contains(html, `data-path="/app/stuck" data-status="running" data-type="supervisor" data-restarts="0" data-unresponsive="true"`) {
			t.Error("the page does not show stuck as unresponsive")
		}
	})
}
