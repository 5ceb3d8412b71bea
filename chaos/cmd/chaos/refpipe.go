package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/chaos"
	"github.com/troupe-go/troupe/pipeline"
	"github.com/troupe-go/troupe/strategy"
)

// The reference pipeline, shaped like a streaming job:
//
//	source (raw lines) → decode (fan-out) → aggregate (keyed by user,
//	stateful) → write (fan-out sink), dead letters to a store
//
// The monkey strikes at four sites, through InjectItem inside the stage
// functions (the pipeline package does not take a fault injector for the
// actor system it builds):
//
//	decode     before parsing
//	aggregate  after Update changed the user's state (the pipeline must
//	           roll the state back before the retry)
//	write      before the write (the retry writes once)
//	ack        after the write, before it returns (the retry writes
//	           again: a duplicate, as with any at-least-once sink)
//
// With -nodes 2 the aggregate stage runs on a second node and a ship
// stage takes its place here (see twonode.go), with its site
//
//	ship       before the item is appended to the feed
var sites = []string{"decode", "aggregate", "write", "ack"}

// killSitesPerStage is the most kill sites one item meets in one stage
// (write and ack are both in the sink). With MaxPerItem 1 an item can be
// killed that many times in the stage, so the stage's attempts must be
// above it for kills never to dead-letter a healthy item.
const killSitesPerStage = 2

// attempts is the Retry attempts of every stage: one more than the kills
// an item can get in a stage. Poison items fail every attempt.
const attempts = killSitesPerStage + 1

// rawItem is a line read by the source: {"id":1,"user":2,"amount":3}.
type rawItem struct {
	id   uint64
	line string
}

// event is a decoded line.
type event struct {
	id     uint64
	user   uint32
	amount int64
}

// userAgg is the aggregator's state for one user, and its flushed total.
type userAgg struct {
	Count, Sum, Max int64
}

// output is what the aggregator emits: each event (with the user's count
// so far), and, at the end of stream, one total per user.
type output struct {
	ev    event
	seen  int64
	total *userTotal
}

type userTotal struct {
	user uint32
	agg  userAgg
}

// gen describes item id of a run: its user, amount and whether it is
// poison. It is a pure function of the seed, so the aggregates can be
// recomputed without the pipeline.
func gen(seed uint64, users int, poison float64, id uint64) (user uint32, amount int64, bad bool) {
	h := mix(seed ^ mix(id))
	user = uint32(h % uint64(users))
	amount = int64(mix(h)%1000) + 1
	bad = float64(mix(h^0xbad)>>11)/(1<<53) < poison
	return
}

func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// line renders item id as the JSON the source reads. A poison line has a
// string where the amount should be.
func line(seed uint64, users int, poison float64, id uint64) string {
	user, amount, bad := gen(seed, users, poison, id)
	b := make([]byte, 0, 64)
	b = append(b, `{"id":`...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, `,"user":`...)
	b = strconv.AppendUint(b, uint64(user), 10)
	b = append(b, `,"amount":`...)
	if bad {
		b = append(b, `"NaN"`...)
	} else {
		b = strconv.AppendInt(b, amount, 10)
	}
	b = append(b, '}')
	return string(b)
}

// wireEvent is the JSON form of an event.
type wireEvent struct {
	ID     uint64 `json:"id"`
	User   uint32 `json:"user"`
	Amount int64  `json:"amount"`
}

func decode(r rawItem) (event, error) {
	var w wireEvent
	if err := json.Unmarshal([]byte(r.line), &w); err != nil {
		return event{}, fmt.Errorf("decode item %d: %w", r.id, err)
	}
	return event{id: w.ID, user: w.User, amount: w.Amount}, nil
}

// refRun is one run of the reference pipeline: its pipeline and what its
// stages observe.
type refRun struct {
	cfg     config
	monkey  *chaos.Monkey
	checker *chaos.Checker[uint64]
	p       *pipeline.Pipeline

	entered, delivered atomic.Uint64
	restarts           atomic.Uint64
	dead               *deadStore

	mu     sync.Mutex // guards totals
	totals map[uint32]userAgg
	dupTot int // totals written twice (must stay 0: no fault strikes them)
}

// build wires the reference pipeline; w (nil without -serve) gets its
// events. With tn (-nodes 2) the aggregation is on the child node: this
// pipeline ships the decoded events to it and writes what comes back.
func build(cfg config, m *chaos.Monkey, c *chaos.Checker[uint64], w *watcher, tn *twoNodes) *refRun {
	r := &refRun{cfg: cfg, monkey: m, checker: c, totals: map[uint32]userAgg{}}
	r.dead = &deadStore{c: c}
	if tn != nil {
		r.dead.early = tn.deadBefore
	}
	r.p = pipeline.New(
		pipeline.WithName("chaos"),
		pipeline.WithDeadLetterStore(r.dead),
		pipeline.WithEvents(func(e actor.Event) {
			c.Event(e)
			w.event(e)
			if e.Kind == actor.EventRestarted {
				r.restarts.Add(1)
			}
		}),
	)
	// Kills come at up to one per K items; the stage supervisors must
	// allow far more restarts than the default 20 per second, or they
	// would give up and fail the pipeline (which the checker reports).
	stage := []pipeline.StageOption{
		pipeline.WithWorkers(cfg.Workers),
		pipeline.WithSupervision(strategy.OneForOne, 100000, time.Second, strategy.Backoff{}),
		pipeline.WithRetry(attempts, strategy.Backoff{}),
	}
	n, seed, users, poison := uint64(cfg.Items), cfg.Seed, cfg.Users, cfg.Poison

	src := pipeline.FromSeq(r.p, "source", func(yield func(rawItem) bool) {
		for id := uint64(1); id <= n; id++ {
			if !yield(rawItem{id: id, line: line(seed, users, poison, id)}) {
				// Stopped (a timeout): the pipeline may or may not have
				// taken this item.
				c.MaybeEntered(id)
				return
			}
			c.Entered(id)
			r.entered.Add(1)
		}
	})

	decoded := pipeline.Map(src, "decode", func(ctx context.Context, raw rawItem) (event, error) {
		if err := m.InjectItem(ctx, "decode", raw.id); err != nil {
			return event{}, err
		}
		return decode(raw)
	}, stage...)

	var aggregated *pipeline.Stream[output]
	if tn != nil {
		// -nodes 2: the aggregation runs on the child node (twonode.go).
		pipeline.ToFunc(decoded, "ship", func(ctx context.Context, e event) error {
			// Before the append only: an item in the feed is there once.
			if err := m.InjectItem(ctx, "ship", e.id); err != nil {
				return err
			}
			return tn.ship(ctx, e)
		}, stage...)
		aggregated = pipeline.FromChan(r.p, "results", tn.results)
	} else {
		aggregated = pipeline.Keyed(decoded, "aggregate", pipeline.KeyedSpec[event, uint32, userAgg, output]{
			Key: func(e event) uint32 { return e.user },
			Update: func(ctx context.Context, user uint32, s *userAgg, e event, emit func(output)) error {
				s.Count++
				s.Sum += e.amount
				if cfg.corruptUser && user == 0 && s.Count == 1 {
					s.Sum++ // test hook: a wrong aggregate
				}
				s.Max = max(s.Max, e.amount)
				emit(output{ev: e, seen: s.Count})
				// After the state changed: a kill here must be rolled back.
				return m.InjectItem(ctx, "aggregate", e.id)
			},
			Flush: func(user uint32, s *userAgg, emit func(output)) bool {
				emit(output{total: &userTotal{user: user, agg: *s}})
				return false
			},
		}, stage...)
	}

	pipeline.ToFunc(aggregated, "write", func(ctx context.Context, o output) error {
		if o.total != nil {
			r.mu.Lock()
			if _, ok := r.totals[o.total.user]; ok {
				r.dupTot++
			}
			r.totals[o.total.user] = o.total.agg
			r.mu.Unlock()
			return nil
		}
		if err := m.InjectItem(ctx, "write", o.ev.id); err != nil {
			return err
		}
		if cfg.loseEvery > 0 && o.ev.id%uint64(cfg.loseEvery) == 0 {
			return nil // test hook: an item silently lost
		}
		c.Delivered(o.ev.id)
		r.delivered.Add(1)
		return m.InjectItem(ctx, "ack", o.ev.id)
	}, stage...)
	return r
}

// want recomputes the per-user aggregates straight from the generator.
func want(cfg config) map[uint32]userAgg {
	w := map[uint32]userAgg{}
	for id := uint64(1); id <= uint64(cfg.Items); id++ {
		user, amount, bad := gen(cfg.Seed, cfg.Users, cfg.Poison, id)
		if bad {
			continue
		}
		a := w[user]
		a.Count++
		a.Sum += amount
		a.Max = max(a.Max, amount)
		w[user] = a
	}
	return w
}

// poisonIDs lists the poison items of a run.
func poisonIDs(cfg config) []uint64 {
	var ids []uint64
	for id := uint64(1); id <= uint64(cfg.Items); id++ {
		if _, _, bad := gen(cfg.Seed, cfg.Users, cfg.Poison, id); bad {
			ids = append(ids, id)
		}
	}
	return ids
}

// deadStore is the pipeline's dead-letter sink: it tells the checker and
// keeps the entries (a pipeline.DeadLetterStore).
type deadStore struct {
	c     *chaos.Checker[uint64]
	early func() // -nodes 2: called for an item dead-lettered before the feed

	mu      sync.Mutex // guards entries and byWhy
	entries []pipeline.DeadLetter
	byWhy   map[string]int // "stage/reason" -> count
}

// itemID returns the id of an item held by a dead letter (the input of
// the stage it was dead-lettered from).
func itemID(item any) (uint64, bool) {
	switch v := item.(type) {
	case rawItem:
		return v.id, true
	case event:
		return v.id, true
	case output:
		if v.total == nil {
			return v.ev.id, true
		}
	}
	return 0, false
}

func (d *deadStore) Add(dl pipeline.DeadLetter) {
	if id, ok := itemID(dl.Item); ok {
		d.c.DeadLettered(id)
	}
	if d.early != nil && (dl.Stage == "decode" || dl.Stage == "ship") {
		d.early()
	}
	d.mu.Lock()
	d.entries = append(d.entries, dl)
	if d.byWhy == nil {
		d.byWhy = map[string]int{}
	}
	d.byWhy[dl.Stage+"/"+dl.Reason.String()]++
	d.mu.Unlock()
}

func (d *deadStore) List(keep func(pipeline.DeadLetter) bool) []pipeline.DeadLetter {
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

func (d *deadStore) Take(keep func(pipeline.DeadLetter) bool) []pipeline.DeadLetter {
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

func (d *deadStore) reasons() map[string]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]int, len(d.byWhy))
	for k, v := range d.byWhy {
		out[k] = v
	}
	return out
}
