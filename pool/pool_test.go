package pool_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/observe"
	"github.com/troupe-go/troupe/pool"
	"github.com/troupe-go/troupe/route"
	"github.com/troupe-go/troupe/supervisor"
)

func TestRoundRobinExact(t *testing.T) {
	sys, dead := newSys(t)
	ctx := callCtx(t)
	out := make(chan done, 30)
	p, err := pool.New(sys, "rr", reporter(out), pool.WithWorkers(3), pool.WithRouter(route.RoundRobin()))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		if err := p.Tell(ctx, job{id: i}); err != nil {
			t.Fatal(err)
		}
	}
	per := map[string][]int{}
	for range 30 {
		d := recv(t, ctx, out, "a job")
		per[d.worker] = append(per[d.worker], d.job.id)
	}
	for w, ids := range per {
		if len(ids) != 10 {
			t.Errorf("%s got %d jobs %v; want 10", w, len(ids), ids)
		}
		for k := 1; k < len(ids); k++ { // in turn: every third job
			if ids[k]-ids[k-1] != 3 {
				t.Errorf("%s got jobs %v; want every third", w, ids)
				break
			}
		}
	}
	if len(per) != 3 {
		t.Errorf("jobs went to %d workers; want 3", len(per))
	}
	if n := dead.Load(); n != 0 {
		t.Errorf("%d dead letters; want 0", n)
	}
}

func TestByKeySameWorker(t *testing.T) {
	sys, _ := newSys(t)
	ctx := callCtx(t)
	out := make(chan done, 200)
	p, err := pool.New(sys, "keyed", reporter(out), pool.WithWorkers(4),
		pool.WithRouter(route.ByKey(func(j job) string { return j.key })))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		if err := p.Tell(ctx, job{id: i, key: "k" + strconv.Itoa(i%10)}); err != nil {
			t.Fatal(err)
		}
	}
	owner, last := map[string]string{}, map[string]int{}
	workers := map[string]bool{}
	for range 200 {
		d := recv(t, ctx, out, "a job")
		workers[d.worker] = true
		if w, ok := owner[d.job.key]; ok && w != d.worker {
			t.Errorf("key %s handled by %s and %s", d.job.key, w, d.worker)
		}
		owner[d.job.key] = d.worker
		if l, ok := last[d.job.key]; ok && d.job.id < l {
			t.Errorf("key %s: job %d after %d", d.job.key, d.job.id, l)
		}
		last[d.job.key] = d.job.id
	}
	if len(workers) < 2 {
		t.Errorf("10 keys all went to %v; want them spread", workers)
	}
	if err := p.Resize(2); !errors.Is(err, pool.ErrInvalid) {
		t.Errorf("Resize of a ByKey pool: got %v; want ErrInvalid", err)
	}
}

// One worker is stuck on a job; least-loaded routing sends nothing more
// to it while others are idle (its mailbox is empty, but it is busy).
func TestLeastLoadedPrefersIdle(t *testing.T) {
	sys, _ := newSys(t)
	ctx := callCtx(t)
	out := make(chan done, 100)
	gate, stuck := make(chan struct{}), make(chan string, 1)
	p, err := pool.New(sys, "ll", func() actor.Actor[job] {
		return actor.Func[job](func(ctx actor.Context, j job) error {
			if j.id < 0 {
				stuck <- ctx.Self().Name()
				<-gate
				return nil
			}
			out <- done{worker: ctx.Self().Name(), job: j}
			return nil
		})
	}, pool.WithWorkers(4))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Tell(ctx, job{id: -1}); err != nil {
		t.Fatal(err)
	}
	busy := recv(t, ctx, stuck, "the stuck job")
	for i := range 40 {
		if err := p.Tell(ctx, job{id: i}); err != nil {
			t.Fatal(err)
		}
		if d := recv(t, ctx, out, "a job"); d.worker == busy {
			t.Errorf("job %d went to the busy %s", i, busy)
		}
	}
	close(gate)
}

// A worker with many jobs queued panics; its supervisor restarts it and
// every job is done exactly once: its mailbox, and so the queue, survived
// the restart. Only the failing job was redelivered.
func TestRestartKeepsQueuedWork(t *testing.T) {
	sys, dead := newSys(t)
	ctx := callCtx(t)
	const n = 300
	out := make(chan done, n+1)
	gate, started := make(chan struct{}), make(chan struct{}, 1)
	p, err := pool.New(sys, "restart", func() actor.Actor[job] {
		return actor.Func[job](func(c actor.Context, j job) error {
			if j.id == 0 && c.Attempt() == 1 {
				started <- struct{}{}
				<-gate
				panic("boom")
			}
			out <- done{worker: c.Self().Name(), job: j}
			return nil
		})
	}, pool.WithWorkers(2), pool.WithRouter(route.RoundRobin()))
	if err != nil {
		t.Fatal(err)
	}
	// Job 0 goes to worker-2 (round-robin starts after worker-1), and so
	// does every second job after it.
	for i := range n + 1 {
		if err := p.Tell(ctx, job{id: i}); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			recv(t, ctx, started, "the failing job")
		}
	}
	if q := p.Stats().Workers[1].MailboxLen; q < n/2-1 {
		t.Fatalf("worker-2 has %d jobs queued; want %d behind the failing one", q, n/2)
	}
	close(gate)
	seen := map[int]int{}
	for range n + 1 {
		d := recv(t, ctx, out, "a job")
		seen[d.job.id]++
	}
	for i := range n + 1 {
		if seen[i] != 1 {
			t.Errorf("job %d done %d times; want 1", i, seen[i])
		}
	}
	st := p.Stats()
	if r := st.Workers[1].Restarts; r != 1 {
		t.Errorf("worker-2 restarted %d times; want 1", r)
	}
	if err := p.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if d := dead.Load(); d != 0 {
		t.Errorf("%d dead letters; want 0", d)
	}
}

type question struct {
	n     int
	reply actor.Reply[string]
}

func TestAskThroughPool(t *testing.T) {
	sys, _ := newSys(t)
	ctx := callCtx(t)
	p, err := pool.New(sys, "ask", func() actor.Actor[question] {
		return actor.Func[question](func(c actor.Context, q question) error {
			return q.reply.Send(c, fmt.Sprintf("%s:%d", c.Self().Name(), q.n*2))
		})
	}, pool.WithWorkers(2), pool.WithRouter(route.RoundRobin()))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := 1; i <= 2; i++ {
		s, err := pool.Ask(ctx, p, func(r actor.Reply[string]) question { return question{n: i, reply: r} })
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	if want := []string{"worker-2:2", "worker-1:4"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("replies %q; want %q", got, want)
	}
	if err := p.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = pool.Ask(ctx, p, func(r actor.Reply[string]) question { return question{reply: r} })
	if !errors.Is(err, actor.ErrStopped) {
		t.Errorf("Ask after Stop: got %v; want ErrStopped", err)
	}
}

func TestBroadcast(t *testing.T) {
	sys, _ := newSys(t)
	ctx := callCtx(t)
	out := make(chan done, 8)
	p, err := pool.New(sys, "bc", reporter(out), pool.WithWorkers(2), pool.WithMaxWorkers(3))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Broadcast(ctx, job{id: 7}); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for range 3 {
		got[recv(t, ctx, out, "a broadcast").worker]++
	}
	if want := map[string]int{"worker-1": 1, "worker-2": 1, "worker-3": 1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("broadcast reached %v; want %v", got, want)
	}
}

func TestResizeWithoutLoss(t *testing.T) {
	sys, dead := newSys(t)
	ctx := callCtx(t)
	out := make(chan done, 64)
	p, err := pool.New(sys, "resize", reporter(out), pool.WithWorkers(1), pool.WithMaxWorkers(4), pool.WithRouter(route.RoundRobin()))
	if err != nil {
		t.Fatal(err)
	}
	phase := func(size, jobs int) map[string]int {
		t.Helper()
		if err := p.Resize(size); err != nil {
			t.Fatal(err)
		}
		if p.Size() != size {
			t.Fatalf("Size %d after Resize(%d)", p.Size(), size)
		}
		for i := range jobs {
			if err := p.Tell(ctx, job{id: i}); err != nil {
				t.Fatal(err)
			}
		}
		per := map[string]int{}
		for range jobs {
			per[recv(t, ctx, out, "a job").worker]++
		}
		return per
	}
	if got := phase(1, 8); got["worker-1"] != 8 {
		t.Errorf("1 worker: %v", got)
	}
	if got := phase(4, 40); len(got) != 4 || got["worker-4"] != 10 {
		t.Errorf("after Resize(4): %v; want 10 jobs each", got)
	}
	if got := phase(2, 40); len(got) != 2 || got["worker-1"] != 20 || got["worker-2"] != 20 {
		t.Errorf("after Resize(2): %v; want 20 jobs on each of the first two", got)
	}
	for _, n := range []int{0, 5} {
		if err := p.Resize(n); !errors.Is(err, pool.ErrInvalid) {
			t.Errorf("Resize(%d): got %v; want ErrInvalid", n, err)
		}
	}
	if d := dead.Load(); d != 0 {
		t.Errorf("%d dead letters; want 0", d)
	}
}

func TestBackpressure(t *testing.T) {
	sys, _ := newSys(t)
	ctx := callCtx(t)
	gate, started := make(chan struct{}), make(chan struct{}, 1)
	p, err := pool.New(sys, "bp", func() actor.Actor[job] {
		return actor.Func[job](func(actor.Context, job) error {
			select {
			case started <- struct{}{}:
			default:
			}
			<-gate
			return nil
		})
	}, pool.WithWorkers(1), pool.WithMailbox(2))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Tell(ctx, job{}); err != nil {
		t.Fatal(err)
	}
	recv(t, ctx, started, "the first job")
	for range 2 {
		if err := p.TryTell(job{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.TryTell(job{}); !errors.Is(err, actor.ErrFull) {
		t.Errorf("TryTell on a full pool: got %v; want ErrFull", err)
	}
	short, cancel := context.WithCancel(ctx)
	res := make(chan error, 1)
	go func() { res <- p.Tell(short, job{}) }() // Owner: this test; ends with short.
	cancel()
	if err := recv(t, ctx, res, "the blocked Tell"); !errors.Is(err, context.Canceled) {
		t.Errorf("Tell on a full pool: got %v; want context.Canceled", err)
	}
	close(gate)
}

func TestErrors(t *testing.T) {
	sys, _ := newSys(t)
	f := reporter(make(chan done, 1))
	cases := []struct {
		name string
		err  func() error
		also error
	}{
		{"nil parent", func() error { _, err := pool.New[job](nil, "p", f); return err }, nil},
		{"empty name", func() error { _, err := pool.New(sys, "", f); return err }, nil},
		{"nil factory", func() error { _, err := pool.New[job](sys, "p", nil); return err }, actor.ErrNilFactory},
		{"zero workers", func() error { _, err := pool.New(sys, "p", f, pool.WithWorkers(0)); return err }, nil},
		{"weights", func() error {
			_, err := pool.New(sys, "p", f, pool.WithWorkers(3), pool.WithRouter(route.Weighted(1, 2)))
			return err
		}, route.ErrInvalid},
		{"key type", func() error {
			_, err := pool.New(sys, "p", f, pool.WithRouter(route.ByKey(func(s string) string { return s })))
			return err
		}, route.ErrInvalid},
		{"zero router", func() error { _, err := pool.New(sys, "p", f, pool.WithRouter(route.Router{})); return err }, nil},
		{"scale", func() error {
			_, err := pool.New(sys, "p", f, pool.WithAutoscale(route.Scale{Min: 3, Max: 2}))
			return err
		}, route.ErrInvalid},
		{"spec id", func() error { _, _, err := pool.Spec("", f); return err }, nil},
	}
	for _, c := range cases {
		err := c.err()
		if !errors.Is(err, pool.ErrInvalid) || (c.also != nil && !errors.Is(err, c.also)) {
			t.Errorf("%s: got %v; want ErrInvalid (and %v)", c.name, err, c.also)
		}
	}
	var nilPool *pool.Pool[job]
	if err := nilPool.Tell(nil, job{}); !errors.Is(err, actor.ErrNilRef) {
		t.Errorf("nil pool Tell: got %v; want ErrNilRef", err)
	}
	if err := nilPool.Stop(nil); !errors.Is(err, actor.ErrNilRef) {
		t.Errorf("nil pool Stop: got %v; want ErrNilRef", err)
	}
}

// A pool given to a supervisor as a child: it refuses messages until the
// supervisor starts it, then shows in the Snapshot under it with its
// workers.
func TestSpecUnderSupervisor(t *testing.T) {
	sys, _ := newSys(t)
	ctx := callCtx(t)
	out := make(chan done, 4)
	p, spec, err := pool.Spec("jobs", reporter(out), pool.WithWorkers(2))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Tell(ctx, job{}); !errors.Is(err, pool.ErrNotStarted) {
		t.Errorf("Tell before start: got %v; want ErrNotStarted", err)
	}
	if err := p.Stop(ctx); !errors.Is(err, pool.ErrSupervised) {
		t.Errorf("Stop of a Spec pool: got %v; want ErrSupervised", err)
	}
	root, err := supervisor.Start(sys, "root", []supervisor.ChildSpec{spec})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Tell(ctx, job{id: 1}); err != nil {
		t.Fatal(err)
	}
	if d := recv(t, ctx, out, "a job"); d.job.id != 1 {
		t.Errorf("got %+v", d)
	}
	snap := sys.Snapshot(ctx, observe.SnapshotOptions{})
	var paths []string
	for _, n := range snap.Nodes {
		for _, c := range n.Children {
			paths = append(paths, c.Path+"("+string(c.Type)+")")
			for _, w := range c.Children {
				paths = append(paths, w.Path+"("+string(w.Type)+","+w.Kind+")")
			}
		}
	}
	if want := "[/root/jobs(supervisor) /root/jobs/worker-1(worker,pool:jobs) /root/jobs/worker-2(worker,pool:jobs)]"; fmt.Sprint(paths) != want {
		t.Errorf("snapshot: %v; want %s", paths, want)
	}
	if err := root.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Tell(ctx, job{}); !errors.Is(err, actor.ErrStopped) {
		t.Errorf("Tell after the supervisor stopped: got %v; want ErrStopped", err)
	}
}
