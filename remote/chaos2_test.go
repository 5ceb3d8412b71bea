package remote

import (
	"context"
	"flag"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/chaos"
	"github.com/troupe-go/troupe/pipeline"
	"github.com/troupe-go/troupe/strategy"
)

// The chaos runner's streaming job on two nodes, split at the decode
// stage (chaos/cmd/chaos -nodes 2 splits it at the aggregation instead,
// with the fold's state checkpointed through a Feed):
//
//	source (raw lines) → decode, on a child node process (remote Stage:
//	Ask through a Service) → aggregate (keyed by user, stateful, here) →
//	write (sink), dead letters to a store
//
// A local monkey kills this node's workers at four sites, as the chaos
// runner's does (decode: after the remote reply came back, so the retry
// asks again; aggregate: after the state changed; write; ack: after the
// write, a duplicate); the child node's monkey kills its decoder actor;
// and the child process is SIGKILLed once, a third of the way, and a new
// one started. The report adds the messages lost in transit and the
// requests re-sent, and must show nothing lost, poison in dead letters
// only, and aggregates equal to a straight recomputation.
//
// The fold stays on the coordinating node here: a remote Stage is at
// least once, and a stateful fold behind one, on a node that can be
// SIGKILLed, would lose its state with the process (or count a re-sent
// item twice). Exact aggregates need the state where its checkpoint is:
// the runner's -nodes 2 puts the fold on the child with its checkpoints
// on this node (Feed, FeedReader).
//
// Longer run: go test -race -run TestChaosTwoNodes -chaos2.items 100000.
var (
	chaos2Items = flag.Int("chaos2.items", 3000, "items of TestChaosTwoNodes")
	chaos2Kill  = flag.Int("chaos2.kill-every", 100, "TestChaosTwoNodes kills a worker about once per K items on each node")
	chaos2Seed  = flag.Uint64("chaos2.seed", 1, "seed of TestChaosTwoNodes")
)

type (
	wireEvent struct {
		ID     uint64 `json:"id"`
		User   uint32 `json:"user"`
		Amount int64  `json:"amount"`
	}
	decodeReq struct {
		ID    uint64                 `json:"id"`
		Line  string                 `json:"line"`
		Reply actor.Reply[wireEvent] `json:"-"`
	}
)

func init() {
	must(Register[wireEvent]("test.WireEvent"))
	must(RegisterAsk("test.DecodeReq", func(r decodeReq) actor.Reply[wireEvent] { return r.Reply }, func(r *decodeReq, rep actor.Reply[wireEvent]) { r.Reply = rep }))
}

type c2raw struct {
	id   uint64
	line string
}

type c2agg struct{ Count, Sum, Max int64 }

type c2out struct {
	ev    wireEvent
	total *c2total
}

type c2total struct {
	user uint32
	agg  c2agg
}

func c2mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// c2gen is item id's user, amount and whether it is poison: a pure
// function of the seed, so the aggregates can be recomputed.
func c2gen(seed uint64, users int, poison float64, id uint64) (uint32, int64, bool) {
	h := c2mix(seed ^ c2mix(id))
	return uint32(h % uint64(users)), int64(c2mix(h)%1000) + 1, float64(c2mix(h^0xbad)>>11)/(1<<53) < poison
}

func c2line(seed uint64, users int, poison float64, id uint64) string {
	user, amount, bad := c2gen(seed, users, poison, id)
	a := strconv.FormatInt(amount, 10)
	if bad {
		a = `"NaN"`
	}
	return fmt.Sprintf(`{"id":%d,"user":%d,"amount":%s}`, id, user, a)
}

// c2dead is the pipeline's dead-letter store: it tells the checker.
type c2dead struct {
	c        *chaos.Checker[uint64]
	mu       sync.Mutex
	entries  []pipeline.DeadLetter
	byReason map[string]int
}

func (d *c2dead) Add(dl pipeline.DeadLetter) {
	switch v := dl.Item.(type) {
	case c2raw:
		d.c.DeadLettered(v.id)
	case wireEvent:
		d.c.DeadLettered(v.ID)
	case c2out:
		if v.total == nil {
			d.c.DeadLettered(v.ev.ID)
		}
	}
	d.mu.Lock()
	d.entries = append(d.entries, dl)
	d.byReason[dl.Stage+"/"+dl.Reason.String()]++
	d.mu.Unlock()
}

func (d *c2dead) List(keep func(pipeline.DeadLetter) bool) []pipeline.DeadLetter {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []pipeline.DeadLetter
	for _, e := range d.entries {
		if keep == nil || keep(e) {
			out = append(out, e)
		}
	}
	return out
}

func (d *c2dead) Take(keep func(pipeline.DeadLetter) bool) []pipeline.DeadLetter {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out, rest []pipeline.DeadLetter
	for _, e := range d.entries {
		if keep == nil || keep(e) {
			out = append(out, e)
		} else {
			rest = append(rest, e)
		}
	}
	d.entries = rest
	return out
}

// TestChaosTwoNodes runs the two-node chaos job (see above) and checks
// its report.
func TestChaosTwoNodes(t *testing.T) {
	ctx := deadline(t)
	a, _, w := shared(t)
	items, killEvery, seed := *chaos2Items, *chaos2Kill, *chaos2Seed
	const users, poison, workers, attempts = 100, 0.005, 4, 3
	sites := []string{"decode", "aggregate", "write", "ack"}

	remoteKill := fmt.Sprintf("%s=%g", stageKill, 1/float64(killEvery))
	startDecoder := func(run int) *stageChild {
		c := startStageChild(ctx, t, a.GossipAddr(), stageMode+"=decode", remoteKill, fmt.Sprintf("%s=%d", stageSeed, seed+uint64(run)))
		w.wait(ctx, t, c.addr, true)
		return c
	}
	c1 := startDecoder(1)

	m, err := chaos.New(seed, chaos.Rule{Kind: chaos.Kill, Rate: 1 / float64(len(sites)*killEvery)})
	if err != nil {
		t.Fatal(err)
	}
	c := chaos.NewChecker[uint64]()
	npoison := 0
	for id := uint64(1); id <= uint64(items); id++ {
		if _, _, bad := c2gen(seed, users, poison, id); bad {
			c.ExpectDead(id)
			npoison++
		}
	}
	svc, err := NewService[decodeReq](a, "decode")
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	lost0 := a.LostInTransit()

	dead := &c2dead{c: c, byReason: map[string]int{}}
	var restarts atomic.Int64
	p := pipeline.New(pipeline.WithName("chaos2"), pipeline.WithDeadLetterStore(dead),
		pipeline.WithEvents(func(e actor.Event) {
			c.Event(e)
			if e.Kind == actor.EventRestarted {
				restarts.Add(1)
			}
		}))
	stage := []pipeline.StageOption{
		pipeline.WithWorkers(workers),
		pipeline.WithSupervision(strategy.OneForOne, 100000, time.Second, strategy.Backoff{}),
		pipeline.WithRetry(attempts, strategy.Backoff{}),
	}
	src := pipeline.FromSeq(p, "source", func(yield func(c2raw) bool) {
		for id := uint64(1); id <= uint64(items); id++ {
			if !yield(c2raw{id: id, line: c2line(seed, users, poison, id)}) {
				c.MaybeEntered(id)
				return
			}
			c.Entered(id)
		}
	})
	var (
		mu        sync.Mutex
		totals    = map[uint32]c2agg{}
		dupTot    int
		delivered atomic.Int64
		third     = make(chan struct{})
		killedAt  time.Time
		firstAt   time.Time
	)
	// remote.Stage, with a kill site after the reply: Map over Ask.
	decoded := pipeline.Map(src, "decode", func(ctx context.Context, r c2raw) (wireEvent, error) {
		ev, err := Ask(ctx, svc, func(rep actor.Reply[wireEvent]) decodeReq { return decodeReq{ID: r.id, Line: r.line, Reply: rep} })
		if err != nil {
			return wireEvent{}, err
		}
		mu.Lock()
		if !killedAt.IsZero() && firstAt.IsZero() {
			firstAt = time.Now()
		}
		mu.Unlock()
		return ev, m.InjectItem(ctx, "decode", r.id)
	}, stage...)
	agg := pipeline.Keyed(decoded, "aggregate", pipeline.KeyedSpec[wireEvent, uint32, c2agg, c2out]{
		Key: func(e wireEvent) uint32 { return e.User },
		Update: func(ctx context.Context, _ uint32, s *c2agg, e wireEvent, emit func(c2out)) error {
			s.Count++
			s.Sum += e.Amount
			s.Max = max(s.Max, e.Amount)
			emit(c2out{ev: e})
			return m.InjectItem(ctx, "aggregate", e.ID)
		},
		Flush: func(user uint32, s *c2agg, emit func(c2out)) bool {
			emit(c2out{total: &c2total{user: user, agg: *s}})
			return false
		},
	}, stage...)
	pipeline.ToFunc(agg, "write", func(ctx context.Context, o c2out) error {
		if o.total != nil {
			mu.Lock()
			if _, ok := totals[o.total.user]; ok {
				dupTot++
			}
			totals[o.total.user] = o.total.agg
			mu.Unlock()
			return nil
		}
		if err := m.InjectItem(ctx, "write", o.ev.ID); err != nil {
			return err
		}
		c.Delivered(o.ev.ID)
		if delivered.Add(1) == int64(items/3) {
			close(third)
		}
		return m.InjectItem(ctx, "ack", o.ev.ID)
	}, stage...)

	start := time.Now()
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-third:
	case <-p.Done():
	case <-ctx.Done():
		t.Fatal("no third of the items delivered")
	}
	mu.Lock()
	killedAt = time.Now()
	mu.Unlock()
	c1.kill()
	c2 := startDecoder(2)
	perr := p.Wait(ctx)
	elapsed := time.Since(start)

	want := map[uint32]c2agg{}
	for id := uint64(1); id <= uint64(items); id++ {
		user, amount, bad := c2gen(seed, users, poison, id)
		if bad {
			continue
		}
		g := want[user]
		g.Count++
		g.Sum += amount
		g.Max = max(g.Max, amount)
		want[user] = g
	}
	mu.Lock()
	chaos.CompareAggregates(c, "total", totals, want)
	mu.Unlock()
	rep := c.Check(ctx, m)

	remoteKills := 0
	for _, ch := range []*stageChild{c1, c2} {
		for len(ch.lines) > 0 {
			if <-ch.lines == "KILL" {
				remoteKills++
			}
		}
	}
	c2.kill() // its later KILL lines are not counted
	bySite := map[string]int{}
	for _, f := range m.Faults() {
		if f.Kind == chaos.Kill {
			bySite[f.Site]++
		}
	}
	t.Logf("troupe chaos -nodes 2: seed %d, %d items, %d users, %d workers per stage, kill every %d on each node, poison %g",
		seed, items, users, workers, killEvery, poison)
	t.Logf("  items out %d, dead-lettered %d (poison expected %d, found %d; non-poison %d) %v",
		rep.Delivered, rep.DeadLettered, npoison, npoison-len(rep.MissingDead), len(rep.UnexpectedDead), dead.byReason)
	t.Logf("  lost %d, duplicated %d (expected %d: kills after the write)", len(rep.Lost), rep.Duplicates, bySite["ack"])
	t.Logf("  kills here %d %v, restarts %d; kills on the remote node %d; remote node SIGKILLed once",
		m.Count(chaos.Kill), bySite, restarts.Load(), remoteKills)
	t.Logf("  lost in transit %d, resent %d, dials %d; first remote reply %v after the SIGKILL (a new process started meanwhile)",
		a.LostInTransit()-lost0, svc.Resent(), svc.Dials(), firstAt.Sub(killedAt))
	t.Logf("  aggregates %d users: ok %v; %.0f items/s (%.2f s)",
		len(want), len(rep.Aggregates) == 0, float64(items)/elapsed.Seconds(), math.Round(elapsed.Seconds()*100)/100)

	if perr != nil {
		t.Errorf("pipeline: %v", perr)
	}
	for _, pr := range rep.Problems() {
		t.Errorf("chaos: %s", pr)
	}
	if len(rep.Lost) != 0 || len(rep.Aggregates) != 0 {
		t.Errorf("lost %d, aggregate differences %v", len(rep.Lost), rep.Aggregates)
	}
	if rep.Duplicates != bySite["ack"] {
		t.Errorf("%d duplicates, want %d (one per kill after the write)", rep.Duplicates, bySite["ack"])
	}
	if dupTot != 0 {
		t.Errorf("%d user totals written twice", dupTot)
	}
	if int(restarts.Load()) != m.Count(chaos.Kill) {
		t.Errorf("%d restarts, want %d (one per kill)", restarts.Load(), m.Count(chaos.Kill))
	}
	if svc.Resent() == 0 {
		t.Error("nothing re-sent: the SIGKILL found no request in flight")
	}
	for _, s := range p.Stats() {
		if s.InFlight != 0 || s.In != s.Out+s.Filtered+s.DeadLettered {
			t.Errorf("stage %s: in %d, out %d, filtered %d, dead %d, in flight %d", s.Name, s.In, s.Out, s.Filtered, s.DeadLettered, s.InFlight)
		}
	}
}
