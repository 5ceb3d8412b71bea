package sched_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/troupe-go/troupe/internal/sched"
	"github.com/troupe-go/troupe/mailbox"
)

// probe is a mailbox whose schedule function only counts its calls, so a
// test can play the runtime and the owner on one goroutine.
type probe struct {
	mb    *sched.Mailbox[int, string]
	calls int // schedule calls; the tests post from one goroutine only
}

func newProbe(t testing.TB, cfg *mailbox.Config) *probe {
	t.Helper()
	p := new(probe)
	mb, err := sched.NewMailbox[int, string](cfg, sched.SchedulerFunc(func() { p.calls++ }))
	if err != nil {
		t.Fatalf("NewMailbox(%+v): got %v; want nil", cfg, err)
	}
	p.mb = mb
	return p
}

// step is one action on a probe and the schedule count expected after it.
type step struct {
	what      string
	do        func(t testing.TB, p *probe)
	wantCalls int
}

func post(m int) func(testing.TB, *probe) {
	return func(t testing.TB, p *probe) {
		t.Helper()
		if _, _, err := p.mb.Post(context.Background(), m); err != nil {
			t.Fatalf("Post(%d): got %v; want nil", m, err)
		}
	}
}

func tryPost(m int) func(testing.TB, *probe) {
	return func(t testing.TB, p *probe) {
		t.Helper()
		if _, _, err := p.mb.TryPost(m); err != nil {
			t.Fatalf("TryPost(%d): got %v; want nil", m, err)
		}
	}
}

func postErr(m int, want error) func(testing.TB, *probe) {
	return func(t testing.TB, p *probe) {
		t.Helper()
		if _, _, err := p.mb.Post(context.Background(), m); !errors.Is(err, want) {
			t.Fatalf("Post(%d): got %v; want %v", m, err, want)
		}
		if _, _, err := p.mb.TryPost(m); !errors.Is(err, want) {
			t.Fatalf("TryPost(%d): got %v; want %v", m, err, want)
		}
	}
}

func postSys(s string) func(testing.TB, *probe) {
	return func(_ testing.TB, p *probe) { p.mb.PostSystem(s) }
}

// drain pops everything the owner would see.
func drain(_ testing.TB, p *probe) {
	for p.mb.HasSystem() {
		p.mb.PopSystem()
	}
	p.mb.PopBatch(nil, 0)
}

func release(want bool) func(testing.TB, *probe) {
	return func(t testing.TB, p *probe) {
		t.Helper()
		if got := p.mb.Release(); got != want {
			t.Fatalf("Release(): got %v; want %v", got, want)
		}
	}
}

func acquire(want bool) func(testing.TB, *probe) {
	return func(t testing.TB, p *probe) {
		t.Helper()
		if got := p.mb.TryAcquire(); got != want {
			t.Fatalf("TryAcquire(): got %v; want %v", got, want)
		}
	}
}

func suspend(_ testing.TB, p *probe) { p.mb.Suspend() }
func resume(_ testing.TB, p *probe)  { p.mb.Resume(false) }

// resumePending resumes an owner that still holds items it took earlier.
func resumePending(_ testing.TB, p *probe) { p.mb.Resume(true) }
func closeUser(_ testing.TB, p *probe)     { p.mb.Close() }

func suspended(want bool) func(testing.TB, *probe) {
	return func(t testing.TB, p *probe) {
		t.Helper()
		if got := p.mb.Suspended(); got != want {
			t.Fatalf("Suspended(): got %v; want %v", got, want)
		}
	}
}

func runSteps(t *testing.T, cfg *mailbox.Config, steps []step) *probe {
	t.Helper()
	p := newProbe(t, cfg)
	for i, s := range steps {
		s.do(t, p)
		if p.calls != s.wantCalls {
			t.Fatalf("step %d (%s): schedule called %d times; want %d", i, s.what, p.calls, s.wantCalls)
		}
	}
	return p
}

// TestMailboxSchedule checks that schedule is called exactly when a post
// (or Resume) takes the mailbox from idle to running, and at no other time.
func TestMailboxSchedule(t *testing.T) {
	cases := []struct {
		name  string
		cfg   *mailbox.Config
		steps []step
	}{
		{"Post on idle", nil, []step{
			{"Post", post(1), 1},
		}},
		{"TryPost on idle", nil, []step{
			{"TryPost", tryPost(1), 1},
		}},
		{"PostSystem on idle", nil, []step{
			{"PostSystem", postSys("a"), 1},
		}},
		{"posts while running", nil, []step{
			{"Post", post(1), 1},
			{"Post", post(2), 1},
			{"TryPost", tryPost(3), 1},
			{"PostSystem", postSys("a"), 1},
		}},
		{"post after an empty Release", nil, []step{
			{"Post", post(1), 1},
			{"drain", drain, 1},
			{"Release", release(false), 1},
			{"Post", post(2), 2},
			{"drain", drain, 2},
			{"Release", release(false), 2},
			{"PostSystem", postSys("a"), 3},
		}},
		{"post after a winning Release", nil, []step{
			{"Post", post(1), 1},
			{"drain", drain, 1},
			{"Post", post(2), 1},
			{"Release", release(true), 1},
			{"Post", post(3), 1},
		}},
		{"TryAcquire makes an owner without schedule", nil, []step{
			{"TryAcquire", acquire(true), 0},
			{"TryAcquire again", acquire(false), 0},
			{"Post", post(1), 0},
			{"drain", drain, 0},
			{"Release", release(false), 0},
			{"Post", post(2), 1},
			{"TryAcquire while running", acquire(false), 1},
		}},
		{"failed post does not schedule", nil, []step{
			{"Close", closeUser, 0},
			{"Post", postErr(1, mailbox.ErrClosed), 0},
		}},
		{"dropped post while running does not schedule", &mailbox.Config{Capacity: 1, Policy: mailbox.DropNewest}, []step{
			{"TryAcquire", acquire(true), 0},
			{"Post", post(1), 0},
			{"Suspend", suspend, 0},
			{"Resume with work", resume, 1},
			{"Post dropped while running", post(2), 1},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runSteps(t, c.cfg, c.steps) })
	}
}

// TestMailboxReleaseRace simulates work racing in with the owner's release
// by posting just before Release: the owner must win the mailbox back, so a
// later post must not schedule a second owner.
func TestMailboxReleaseRace(t *testing.T) {
	cases := []struct {
		name     string
		raced    func(testing.TB, *probe)
		want     bool
		wantUser []int
		wantSys  []string
	}{
		{"nothing", func(testing.TB, *probe) {}, false, nil, nil},
		{"Post", post(7), true, []int{7}, nil},
		{"TryPost", tryPost(7), true, []int{7}, nil},
		{"PostSystem", postSys("stop"), true, nil, []string{"stop"}},
		{"both lanes", func(t testing.TB, p *probe) { post(7)(t, p); postSys("stop")(t, p) }, true, []int{7}, []string{"stop"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := newProbe(t, nil)
			post(1)(t, p)
			drain(t, p)
			c.raced(t, p)
			if got := p.mb.Release(); got != c.want {
				t.Fatalf("Release(): got %v; want %v", got, c.want)
			}
			if p.calls != 1 {
				t.Fatalf("schedule calls after Release: got %d; want 1", p.calls)
			}
			var sys []string
			for {
				s, ok := p.mb.PopSystem()
				if !ok {
					break
				}
				sys = append(sys, s)
			}
			if !slices.Equal(sys, c.wantSys) {
				t.Fatalf("system items: got %v; want %v", sys, c.wantSys)
			}
			if got := p.mb.PopBatch(nil, 0); !slices.Equal(got, c.wantUser) {
				t.Fatalf("user items: got %v; want %v", got, c.wantUser)
			}
			// A still-owning caller keeps the mailbox running: no schedule.
			// Otherwise the mailbox is idle and the next post schedules.
			post(2)(t, p)
			wantCalls := 2
			if c.want {
				wantCalls = 1
			}
			if p.calls != wantCalls {
				t.Fatalf("schedule calls after a later Post: got %d; want %d", p.calls, wantCalls)
			}
		})
	}
}

func TestMailboxSuspendResume(t *testing.T) {
	cases := []struct {
		name  string
		steps []step
	}{
		{"posts queue but do not schedule until Resume", []step{
			{"Post", post(1), 1},
			{"Suspend", suspend, 1},
			{"Suspended", suspended(true), 1},
			{"Post", post(2), 1},
			{"TryPost", tryPost(3), 1},
			{"PostSystem", postSys("a"), 1},
			{"TryAcquire", acquire(false), 1},
			{"Resume", resume, 2},
			{"Suspended", suspended(false), 2},
			{"Post while running", post(4), 2},
		}},
		{"Resume with only system work schedules", []step{
			{"TryAcquire", acquire(true), 0},
			{"Suspend", suspend, 0},
			{"PostSystem", postSys("a"), 0},
			{"Resume", resume, 1},
		}},
		{"Resume with nothing queued leaves it idle", []step{
			{"TryAcquire", acquire(true), 0},
			{"Suspend", suspend, 0},
			{"Resume", resume, 0},
			{"Suspended", suspended(false), 0},
			{"Post", post(1), 1},
		}},
		{"Resume when not suspended does nothing", []step{
			{"Resume idle", resume, 0},
			{"Post", post(1), 1},
			{"Resume running", resume, 1},
			{"Post", post(2), 1},
			{"Suspended", suspended(false), 1},
		}},
		{"Resume(pending) with nothing queued schedules", []step{
			{"TryAcquire", acquire(true), 0},
			{"Suspend", suspend, 0},
			{"Resume(true)", resumePending, 1},
			{"Suspended", suspended(false), 1},
			{"Post while running", post(1), 1},
		}},
		{"Resume(pending) when not suspended does nothing", []step{
			{"Resume(true) idle", resumePending, 0},
			{"Post", post(1), 1},
			{"Resume(true) running", resumePending, 1},
			{"drain", drain, 1},
			{"Release", release(false), 1},
			{"Post", post(2), 2},
		}},
		{"second Resume does not schedule twice", []step{
			{"Post", post(1), 1},
			{"Suspend", suspend, 1},
			{"Resume", resume, 2},
			{"Resume", resume, 2},
		}},
		{"suspend then drain by a later owner", []step{
			{"Post", post(1), 1},
			{"Suspend", suspend, 1},
			{"Resume", resume, 2},
			{"drain", drain, 2},
			{"Release", release(false), 2},
			{"Post", post(2), 3},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runSteps(t, nil, c.steps) })
	}
}

func TestMailboxSystemLane(t *testing.T) {
	cases := []struct {
		name string
		// setup leaves the user queue in some state before the system posts.
		setup   func(t testing.TB, mb *sched.Mailbox[int, string])
		userErr error // what a user post returns afterwards
	}{
		{"user queue empty", func(testing.TB, *sched.Mailbox[int, string]) {}, nil},
		{"user queue full", func(t testing.TB, mb *sched.Mailbox[int, string]) {
			for i := range 2 {
				if _, _, err := mb.TryPost(i); err != nil {
					t.Fatalf("TryPost(%d): got %v; want nil", i, err)
				}
			}
		}, mailbox.ErrFull},
		{"user queue closed", func(testing.TB, *sched.Mailbox[int, string]) {}, mailbox.ErrClosed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mb, err := sched.NewMailbox[int, string](&mailbox.Config{Capacity: 2, Policy: mailbox.Reject}, sched.SchedulerFunc(func() {}))
			if err != nil {
				t.Fatalf("NewMailbox: got %v; want nil", err)
			}
			c.setup(t, mb)
			if errors.Is(c.userErr, mailbox.ErrClosed) {
				mb.Close()
			}
			userLen := mb.Len()
			if mb.HasSystem() {
				t.Fatalf("HasSystem() before any PostSystem: got true; want false")
			}
			if s, ok := mb.PopSystem(); ok {
				t.Fatalf("PopSystem() on an empty lane: got (%q, true); want (\"\", false)", s)
			}
			var want, got []string
			for i := range 100 {
				s := fmt.Sprint("s", i)
				mb.PostSystem(s)
				want = append(want, s)
				if i%3 == 2 { // interleave pops so the lane's slice is resliced and regrown
					s, ok := mb.PopSystem()
					if !ok {
						t.Fatalf("PopSystem() after %d posts: got ok=false; want true", i+1)
					}
					got = append(got, s)
				}
			}
			if !mb.HasSystem() {
				t.Fatalf("HasSystem(): got false; want true")
			}
			for {
				s, ok := mb.PopSystem()
				if !ok {
					break
				}
				got = append(got, s)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("system lane order: got %v; want %v", got, want)
			}
			if mb.HasSystem() {
				t.Fatalf("HasSystem() after draining: got true; want false")
			}
			if got := mb.Len(); got != userLen {
				t.Fatalf("user Len() changed by the system lane: got %v; want %v", got, userLen)
			}
			if _, _, err := mb.TryPost(99); !errors.Is(err, c.userErr) || (c.userErr == nil && err != nil) {
				t.Fatalf("TryPost after system traffic: got %v; want %v", err, c.userErr)
			}
		})
	}
}

func TestMailboxUserQueue(t *testing.T) {
	var mb sched.Mailbox[int, string] // embedded use: a zero value plus Init
	if err := mb.Init(&mailbox.Config{Capacity: 3, Policy: mailbox.DropOldest}, sched.SchedulerFunc(func() {})); err != nil {
		t.Fatalf("Init: got %v; want nil", err)
	}
	if got := mb.Cap(); got != 3 {
		t.Fatalf("Cap(): got %v; want 3", got)
	}
	for i := 1; i <= 4; i++ {
		dropped, was, err := mb.Post(context.Background(), i)
		if err != nil {
			t.Fatalf("Post(%d): got %v; want nil", i, err)
		}
		if wantWas := i == 4; was != wantWas || (was && dropped != 1) {
			t.Fatalf("Post(%d): got dropped=(%v, %v); want (1, %v)", i, dropped, was, wantWas)
		}
	}
	if got, ok := mb.PopOne(); !ok || got != 2 {
		t.Fatalf("PopOne(): got (%v, %v); want (2, true)", got, ok)
	}
	if got := mb.PopBatch(nil, 1); !slices.Equal(got, []int{3}) {
		t.Fatalf("PopBatch(nil, 1): got %v; want [3]", got)
	}
	if got := mb.Len(); got != 1 {
		t.Fatalf("Len(): got %v; want 1", got)
	}
	if mb.Closed() {
		t.Fatalf("Closed() before Close: got true; want false")
	}
	if got := mb.Close(); !slices.Equal(got, []int{4}) {
		t.Fatalf("Close(): got %v; want [4]", got)
	}
	if !mb.Closed() {
		t.Fatalf("Closed() after Close: got false; want true")
	}
	want := mailbox.Stats{Capacity: 3, Enqueued: 4, Dequeued: 2, DroppedOldest: 1, Drained: 1}
	if got := mb.Stats(); got != want {
		t.Fatalf("Stats(): got %+v; want %+v", got, want)
	}
}

// TestMailboxNoLostWakeup runs the scheduling protocol for real: every
// schedule call starts an owner goroutine that drains both lanes, then
// releases and keeps going if Release says work raced in. Posters hammer
// both lanes. Every item must be drained exactly once, in per-sender order,
// by at most one owner at a time.
//
// A lost wake-up leaves an item queued with no owner, but only until the
// next post schedules one, so it is visible only after the last post. The
// test therefore runs many short rounds and, after each, waits for the
// posters and then the last owner and checks that both lanes are empty.
func TestMailboxNoLostWakeup(t *testing.T) {
	cases := []struct {
		name  string
		cfg   *mailbox.Config
		batch int
	}{
		{"bounded block", &mailbox.Config{Capacity: 4, Policy: mailbox.Block}, 2},
		{"unbounded", nil, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			const (
				rounds   = 1000
				posters  = 4
				perRound = 3 // posts per poster per round
				sysEvery = 3 // every 3rd post goes to the system lane
			)
			var (
				owners    sync.WaitGroup // every owner goroutine
				running   atomic.Int32   // owners currently holding the mailbox
				schedules atomic.Int64
				mb        *sched.Mailbox[tagged, tagged]

				// Written only by the mailbox's current owner. One owner's
				// accesses happen before the next owner's through the
				// hand-off: Release's atomic store of idle, the next
				// post's CompareAndSwap, and the go statement in schedule.
				// The race detector checks that claim.
				nextUser, nextSys [posters]int
				firstErr          string
			)
			check := func(lane string, next *[posters]int, m tagged) {
				if m.seq != next[m.sender] && firstErr == "" {
					firstErr = fmt.Sprintf("%s lane, sender %d: got seq %d; want %d", lane, m.sender, m.seq, next[m.sender])
				}
				next[m.sender] = m.seq + 1
			}
			owner := func() {
				if n := running.Add(1); n != 1 {
					t.Errorf("owners running at once: got %d; want 1", n)
				}
				var batch []tagged
				for {
					for {
						s, ok := mb.PopSystem()
						if !ok {
							break
						}
						check("system", &nextSys, s)
					}
					batch = mb.PopBatch(batch[:0], c.batch)
					for _, m := range batch {
						check("user", &nextUser, m)
					}
					if len(batch) > 0 || mb.HasSystem() {
						continue
					}
					// Yield between the last empty check and Release: this
					// widens the window in which a post finds the mailbox
					// still running and does not schedule, so Release has to
					// notice that post itself.
					runtime.Gosched()
					running.Add(-1) // before Release: a new owner may start the moment it stores idle
					if !mb.Release() {
						return
					}
					if n := running.Add(1); n != 1 {
						t.Errorf("owners running after Release returned true: got %d; want 1", n)
					}
				}
			}
			var err error
			mb, err = sched.NewMailbox[tagged, tagged](c.cfg, sched.SchedulerFunc(func() {
				schedules.Add(1)
				// Schedule is called only by posters, and each round waits
				// for owners only after all its posters have returned, so
				// this Add happens before that Wait.
				owners.Go(owner)
			}))
			if err != nil {
				t.Fatalf("NewMailbox: got %v; want nil", err)
			}

			var userN, sysN [posters]int // written by poster p during a round, read between rounds
			for round := range rounds {
				var (
					wg        sync.WaitGroup
					errOnce   sync.Once
					firstPost error // set once under errOnce, read after wg.Wait
				)
				for p := range posters {
					wg.Go(func() { // ends after its last post of the round; joined below
						for i := range perRound {
							if i%sysEvery == p%sysEvery {
								mb.PostSystem(tagged{p, sysN[p]})
								sysN[p]++
								continue
							}
							if _, _, err := mb.Post(context.Background(), tagged{p, userN[p]}); err != nil {
								errOnce.Do(func() { firstPost = err })
								return
							}
							userN[p]++
						}
					})
				}
				recv(t, done(wg.Wait), "posters to finish")
				recv(t, done(owners.Wait), "the last owner to exit")
				if firstPost != nil {
					t.Fatalf("round %d: Post: got %v; want nil", round, firstPost)
				}
				if firstErr != "" {
					t.Fatalf("round %d: %s", round, firstErr)
				}
				if got := mb.Len(); got != 0 {
					t.Fatalf("round %d: Len() after the last owner exited: got %v; want 0 (lost wake-up)", round, got)
				}
				if mb.HasSystem() {
					t.Fatalf("round %d: HasSystem() after the last owner exited: got true; want false (lost wake-up)", round)
				}
				for p := range posters {
					if nextUser[p] != userN[p] || nextSys[p] != sysN[p] {
						t.Fatalf("round %d, poster %d: drained user %d, system %d; want %d, %d", round, p, nextUser[p], nextSys[p], userN[p], sysN[p])
					}
				}
			}
			total := uint64(0)
			for p := range posters {
				total += uint64(userN[p])
			}
			want := mailbox.Stats{Capacity: mb.Cap(), Enqueued: total, Dequeued: total}
			if got := mb.Stats(); got != want {
				t.Errorf("Stats(): got %+v; want %+v", got, want)
			}
			if n := schedules.Load(); n < rounds {
				t.Errorf("schedule calls: got %d; want at least one per round (%d)", n, rounds)
			}
		})
	}
}
