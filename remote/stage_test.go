package remote

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/pipeline"
)

// stageSink is the sink of the stage tests: the outputs by item id, and
// when the first output after a kill came.
type stageSink struct {
	mu       sync.Mutex
	got      map[int]int // id -> outputs
	byNode   map[string]int
	wrong    int
	killedAt time.Time
	firstAt  time.Time // first output after killedAt
}

func newStageSink() *stageSink { return &stageSink{got: map[int]int{}, byNode: map[string]int{}} }

func (s *stageSink) put(_ context.Context, o stageOut) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got[o.ID]++
	s.byNode[o.Node]++
	if o.V != 2*o.ID {
		s.wrong++
	}
	if !s.killedAt.IsZero() && s.firstAt.IsZero() {
		s.firstAt = time.Now()
	}
	return nil
}

func (s *stageSink) killed() {
	s.mu.Lock()
	s.killedAt = time.Now()
	s.mu.Unlock()
}

// check: every item 1..n exactly once, each the right output.
func (s *stageSink) check(t *testing.T, n int) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.got) != n || s.wrong != 0 {
		t.Errorf("sink: %d distinct items, want %d; %d wrong outputs", len(s.got), n, s.wrong)
	}
	for id := 1; id <= n; id++ {
		if s.got[id] != 1 {
			t.Errorf("item %d: %d outputs, want 1", id, s.got[id])
		}
	}
}

func (s *stageSink) recovery() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.firstAt.Sub(s.killedAt)
}

// checkAccounting: at the end every stage has In = Out + Filtered +
// DeadLettered, nothing in flight, nothing dead-lettered; the sink got
// all n.
func checkAccounting(t *testing.T, p *pipeline.Pipeline, n int) {
	t.Helper()
	for _, s := range p.Stats() {
		if s.InFlight != 0 || s.In != s.Out+s.Filtered+s.DeadLettered || s.DeadLettered != 0 {
			t.Errorf("stage %s: in %d, out %d, filtered %d, dead %d, in flight %d", s.Name, s.In, s.Out, s.Filtered, s.DeadLettered, s.InFlight)
		}
		if s.Kind == "sink" && s.Out != uint64(n) {
			t.Errorf("sink %s: out %d, want %d", s.Name, s.Out, n)
		}
	}
}

func ids(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i + 1
	}
	return s
}

func double(id int, r actor.Reply[stageOut]) stageReq { return stageReq{ID: id, Reply: r} }

// TestStageSurvivesNodeKill: a pipeline stage served by a child process;
// the child answers 300 items, then holds the next four (one per worker)
// unanswered and is SIGKILLed; a new child process (a new address)
// serves the stage and the pipeline finishes with every item exactly once
// at the sink, the held items re-sent, the accounting exact.
func TestStageSurvivesNodeKill(t *testing.T) {
	ctx := deadline(t)
	a, _, w := shared(t)
	const n, hold, workers = 1000, 300, 4
	c1 := startStageChild(ctx, t, a.GossipAddr(), stageHold+"=300")
	w.wait(ctx, t, c1.addr, true)

	svc, err := NewService[stageReq](a, "double")
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	lost0 := a.LostInTransit()
	sink := newStageSink()
	p := pipeline.New(pipeline.WithName("rstage"))
	out := Stage(pipeline.FromSlice(p, "src", ids(n)), "double", svc, double, pipeline.WithWorkers(workers))
	pipeline.ToFunc(out, "sink", sink.put)
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	c1.await(ctx, t, "HELD 4") // every worker waits for a reply that will not come
	sink.killed()
	c1.kill()
	c2 := startStageChild(ctx, t, a.GossipAddr())
	sink.mu.Lock()
	up := time.Since(sink.killedAt)
	sink.mu.Unlock()
	if err := p.Wait(ctx); err != nil {
		t.Fatalf("pipeline: %v", err)
	}
	sink.check(t, n)
	checkAccounting(t, p, n)
	sink.mu.Lock()
	on1, on2 := sink.byNode[c1.addr], sink.byNode[c2.addr]
	sink.mu.Unlock()
	if on1 > hold || on1+on2 != n {
		t.Errorf("outputs: %d from the killed node (at most %d), %d from its successor; want %d in all", on1, hold, on2, n)
	}
	if r := svc.Resent(); r < workers {
		t.Errorf("resent %d, want at least %d (the held items)", r, workers)
	}
	t.Logf("resent %d, lost in transit %d, dials %d; first output %v after the SIGKILL, the new process up after %v",
		svc.Resent(), a.LostInTransit()-lost0, svc.Dials(), sink.recovery(), up)
}

// TestStageFailsOver: two child nodes serve the stage; the first one
// used dies with requests in flight, and the other takes them over
// without any restart; the Service's Ref (plain Ask, at most once) then
// reaches the survivor too.
func TestStageFailsOver(t *testing.T) {
	ctx := deadline(t)
	a, _, w := shared(t)
	const n, hold, workers = 600, 200, 3
	c1 := startStageChild(ctx, t, a.GossipAddr(), stageHold+"=200")
	c2 := startStageChild(ctx, t, a.GossipAddr())
	w.wait(ctx, t, c1.addr, true)
	w.wait(ctx, t, c2.addr, true)
	svc, err := NewService[stageReq](a, "double", ServiceNodes(func() []string { return []string{c1.addr, c2.addr} }))
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	sink := newStageSink()
	p := pipeline.New(pipeline.WithName("rstage-failover"))
	out := Stage(pipeline.FromSlice(p, "src", ids(n)), "double", svc, double, pipeline.WithWorkers(workers))
	pipeline.ToFunc(out, "sink", sink.put)
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	c1.await(ctx, t, "HELD 3")
	sink.killed()
	c1.kill()
	if err := p.Wait(ctx); err != nil {
		t.Fatalf("pipeline: %v", err)
	}
	sink.check(t, n)
	checkAccounting(t, p, n)
	sink.mu.Lock()
	on1, on2 := sink.byNode[c1.addr], sink.byNode[c2.addr]
	sink.mu.Unlock()
	if on1 != hold || on2 != n-hold {
		t.Errorf("outputs: %d from the killed node, %d from the other; want %d and %d", on1, on2, hold, n-hold)
	}
	if r := svc.Resent(); r < workers {
		t.Errorf("resent %d, want at least %d", r, workers)
	}
	if got := svc.Addr(); got != c2.addr {
		t.Errorf("service on %q, want the survivor %s", got, c2.addr)
	}
	v, err := actor.Ask(ctx, svc.Ref(), func(r actor.Reply[stageOut]) stageReq { return stageReq{ID: 21, Reply: r} })
	if err != nil || v.V != 42 || v.Node != c2.addr {
		t.Errorf("Ask through the Service's Ref: %+v, %v", v, err)
	}
	t.Logf("failover: resent %d, first output %v after the SIGKILL", svc.Resent(), sink.recovery())
}

// TestServiceEdges: bad arguments, waiting for a node that never comes
// (bounded by ctx), Close.
func TestServiceEdges(t *testing.T) {
	ctx := deadline(t)
	a, _, _ := shared(t)
	if _, err := NewService[stageReq](nil, "x"); !errors.Is(err, actor.ErrNilRef) {
		t.Errorf("nil node: %v", err)
	}
	if _, err := NewService[stageReq](a, "a/b"); !errors.Is(err, actor.ErrInvalidName) {
		t.Errorf("bad name: %v", err)
	}
	if _, err := NewService[unregistered](a, "x"); !errors.Is(err, ErrUnregistered) {
		t.Errorf("unregistered: %v", err)
	}
	if _, err := Ask[stageReq, stageOut](ctx, nil, nil); !errors.Is(err, actor.ErrNilRef) {
		t.Errorf("nil service: %v", err)
	}

	// Nobody exposes the name: this node is the only candidate, and it
	// answers "not exposed"; Ask keeps trying until its ctx ends.
	svc, err := NewService[stageReq](a, uniq(t, "nobody"), RedialBackoff(5*time.Millisecond, 50*time.Millisecond),
		ServiceNodes(func() []string { return []string{a.Addr()} }))
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = Ask(short, svc, func(r actor.Reply[stageOut]) stageReq { return stageReq{ID: 1, Reply: r} })
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Ask with no node serving: %v, want DeadlineExceeded", err)
	}
	if svc.Resent() == 0 || svc.Dials() < 2 {
		t.Errorf("resent %d, dials %d: want it to have kept trying", svc.Resent(), svc.Dials())
	}
	if err := svc.Ref().TryTell(stageReq{ID: 1}); err == nil {
		// A fresh dial may be up for a moment: then the Tell is on its way
		// (and dead-lettered when "not exposed" comes back).
		t.Log("TryTell went on a handle not yet known down")
	}

	ref := svc.Ref()
	ended := make(chan actor.Terminated, 1)
	ref.PID().Watch(func(t actor.Terminated) { ended <- t })
	waiting := make(chan error, 1)
	// Owner: the test; it ends when Close ends the Ask.
	go func() {
		_, err := Ask(ctx, svc, func(r actor.Reply[stageOut]) stageReq { return stageReq{ID: 2, Reply: r} })
		waiting <- err
	}()
	svc.Close()
	svc.Close()
	select {
	case err := <-waiting:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Ask ended by Close: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("Close did not end a waiting Ask")
	}
	if got := recvT(ctx, t, ended, "service watch"); got.Reason != actor.Shutdown || !errors.Is(got.Err, ErrClosed) {
		t.Errorf("watch after Close: %+v", got)
	}
	select {
	case <-ref.PID().Done():
	default:
		t.Error("the Ref of a closed Service is not done")
	}
	if err := ref.Tell(ctx, stageReq{ID: 3}); !errors.Is(err, ErrClosed) {
		t.Errorf("Tell after Close: %v", err)
	}

	// A nil Service or build: the pipeline is invalid, not a panic.
	p := pipeline.New()
	pipeline.Collect(Stage[int, stageOut, stageReq](pipeline.FromSlice(p, "src", ids(3)), "s", nil, double), "out")
	if err := p.Run(ctx); !errors.Is(err, pipeline.ErrInvalid) {
		t.Errorf("Stage with a nil Service: %v", err)
	}
}
