package chaos_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/chaos"
)

// feed records items 1..n as entered and delivered, except those in skip.
func feed(c *chaos.Checker[int], n int, skip ...int) {
	for i := 1; i <= n; i++ {
		c.Entered(i)
		if !slices.Contains(skip, i) {
			c.Delivered(i)
		}
	}
}

func check(c *chaos.Checker[int], m *chaos.Monkey) chaos.Report[int] {
	return c.Check(context.Background(), m)
}

func TestCheckerClean(t *testing.T) {
	c := chaos.NewChecker[int]()
	feed(c, 100)
	rep := check(c, nil)
	if err := rep.Err(); err != nil || !rep.OK() {
		t.Fatalf("clean run: %v", err)
	}
	if rep.Entered != 100 || rep.Delivered != 100 || rep.DeadLettered != 0 {
		t.Fatalf("report %v", &rep)
	}
}

func TestCheckerDetectsLostItem(t *testing.T) {
	c := chaos.NewChecker[int]()
	feed(c, 100, 7, 3)
	rep := check(c, nil)
	if !slices.Equal(rep.Lost, []int{3, 7}) {
		t.Fatalf("Lost = %v; want [3 7]", rep.Lost)
	}
	if err := rep.Err(); err == nil || !strings.Contains(err.Error(), "2 lost: 3 7") {
		t.Fatalf("Err() = %v; want it to name the lost items", err)
	}
}

func TestCheckerCountsDuplicates(t *testing.T) {
	c := chaos.NewChecker[string]()
	for _, id := range []string{"a", "b", "c"} {
		c.Entered(id)
		c.Delivered(id)
	}
	c.Delivered("b")
	c.Delivered("b")
	rep := c.Check(context.Background(), nil)
	if rep.Duplicates != 2 || rep.Delivered != 3 {
		t.Fatalf("Duplicates %d, Delivered %d; want 2, 3", rep.Duplicates, rep.Delivered)
	}
	if !rep.OK() {
		t.Fatalf("duplicates failed the run by default: %v", rep.Err())
	}
	strict := chaos.NewChecker[string](chaos.NoDuplicates())
	strict.Entered("a")
	strict.Delivered("a")
	strict.Delivered("a")
	if rep := strict.Check(context.Background(), nil); rep.OK() {
		t.Fatal("NoDuplicates accepted a duplicate")
	}
}

func TestCheckerDeadLetters(t *testing.T) {
	c := chaos.NewChecker[int]()
	feed(c, 10, 2, 3, 4, 5)
	c.ExpectDead(2) // poison, dead-lettered: fine
	c.DeadLettered(2)
	c.ExpectDead(3) // poison, lost
	c.ExpectDead(4) // poison, delivered
	c.Delivered(4)
	c.DeadLettered(5) // healthy, dead-lettered
	c.DeadLettered(99)
	rep := check(c, nil)
	for _, x := range []struct {
		name      string
		got, want []int
	}{
		{"MissingDead", rep.MissingDead, []int{3, 4}},
		{"DeliveredPoison", rep.DeliveredPoison, []int{4}},
		{"UnexpectedDead", rep.UnexpectedDead, []int{5, 99}},
		{"Unknown", rep.Unknown, []int{99}},
		{"Lost", rep.Lost, []int{3}},
	} {
		if !slices.Equal(x.got, x.want) {
			t.Errorf("%s = %v; want %v", x.name, x.got, x.want)
		}
	}
	if rep.ExpectedDead != 3 || rep.DeadLettered != 3 {
		t.Errorf("ExpectedDead %d, DeadLettered %d; want 3, 3", rep.ExpectedDead, rep.DeadLettered)
	}

	lax := chaos.NewChecker[int](chaos.AllowDeadLetters())
	feed(lax, 3, 2)
	lax.DeadLettered(2)
	if rep := check(lax, nil); !rep.OK() {
		t.Fatalf("AllowDeadLetters: %v", rep.Err())
	}
}

func TestCheckerDetectsWrongAggregate(t *testing.T) {
	c := chaos.NewChecker[int]()
	feed(c, 3)
	want := map[string]int{"ann": 3, "bob": 5, "cy": 1}
	chaos.CompareAggregates(c, "sum", map[string]int{"ann": 3, "bob": 5, "cy": 1}, want)
	if rep := check(c, nil); !rep.OK() {
		t.Fatalf("equal aggregates: %v", rep.Err())
	}
	chaos.CompareAggregates(c, "sum", map[string]int{"ann": 3, "bob": 6, "dee": 2}, want)
	rep := check(c, nil)
	wantDiffs := []string{"sum[bob] = 6, want 5", "sum[cy]: missing, want 1", "sum[dee] = 2, want none"}
	slices.Sort(rep.Aggregates)
	if !slices.Equal(rep.Aggregates, wantDiffs) {
		t.Fatalf("Aggregates = %q; want %q", rep.Aggregates, wantDiffs)
	}
	if rep.OK() {
		t.Fatal("wrong aggregates passed")
	}
}

// kill makes m inject one kill at a point and returns it.
func kill(t *testing.T, m *chaos.Monkey, site string) *chaos.Fault {
	t.Helper()
	f, _ := inject(m, context.Background(), site, -1)
	if f == nil {
		t.Fatal("no kill")
	}
	return f
}

// failedBy is the event the runtime emits for a kill at a receive.
func failedBy(path string, f *chaos.Fault) actor.Event {
	return actor.Event{Kind: actor.EventFailed, Path: path, Reason: actor.Failed,
		Err: &actor.Failure{Path: path, Err: actor.NewPanicError(f)}}
}

func TestCheckerMatchesFaultsWithEvents(t *testing.T) {
	restarted := func(path string) actor.Event { return actor.Event{Kind: actor.EventRestarted, Path: path} }
	cases := []struct {
		name   string
		events func(f1, f2 *chaos.Fault) []actor.Event
		opts   []chaos.CheckOption
		want   string // a problem the report must list; "" for none
	}{
		{"matched", func(f1, f2 *chaos.Fault) []actor.Event {
			return []actor.Event{failedBy("/w", f1), restarted("/w"), failedBy("/w", f2), restarted("/w")}
		}, nil, ""},
		{"a fault with no failure", func(f1, f2 *chaos.Fault) []actor.Event {
			return []actor.Event{failedBy("/w", f1), restarted("/w")}
		}, nil, "kill #2 (site b): no failure event"},
		{"a failure reported twice", func(f1, f2 *chaos.Fault) []actor.Event {
			return []actor.Event{failedBy("/w", f1), restarted("/w"), failedBy("/w", f2), failedBy("/w", f2), restarted("/w"), restarted("/w")}
		}, nil, "kill #2 (site b): 2 failure events"},
		{"a failure not restarted", func(f1, f2 *chaos.Fault) []actor.Event {
			return []actor.Event{failedBy("/w", f1), restarted("/w"), failedBy("/w", f2)}
		}, nil, "/w: 2 failed incarnations, 1 restarts"},
		{"not restarted, allowed", func(f1, f2 *chaos.Fault) []actor.Event {
			return []actor.Event{failedBy("/w", f1), failedBy("/w", f2)}
		}, []chaos.CheckOption{chaos.AllowUnrestarted()}, ""},
		{"a supervisor gave up", func(f1, f2 *chaos.Fault) []actor.Event {
			return []actor.Event{failedBy("/s/w", f1), restarted("/s/w"), failedBy("/s/w", f2),
				{Kind: actor.EventGaveUp, Path: "/s"}, {Kind: actor.EventEscalated, Path: "/s"}}
		}, nil, "1 supervisors gave up (/s), 0 allowed"},
		{"a give-up allowed excuses the restarts below it", func(f1, f2 *chaos.Fault) []actor.Event {
			return []actor.Event{failedBy("/s/w", f1), restarted("/s/w"), failedBy("/s/w", f2),
				{Kind: actor.EventGaveUp, Path: "/s"}, {Kind: actor.EventEscalated, Path: "/s"}}
		}, []chaos.CheckOption{chaos.AllowEscalations(1)}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := newMonkey(t, 1, chaos.Rule{Kind: chaos.Kill, Count: 2})
			f1, f2 := kill(t, m, "a"), kill(t, m, "b")
			c := chaos.NewChecker[int](tc.opts...)
			for _, e := range tc.events(f1, f2) {
				c.Event(e)
			}
			rep := check(c, m)
			probs := strings.Join(rep.Problems(), "\n")
			switch {
			case tc.want == "" && probs != "":
				t.Fatalf("problems:\n%s\nwant none", probs)
			case tc.want != "" && !strings.Contains(probs, tc.want):
				t.Fatalf("problems:\n%s\nwant one containing %q", probs, tc.want)
			}
		})
	}
}

func TestCheckerCountsEvents(t *testing.T) {
	m := newMonkey(t, 1, chaos.Rule{Kind: chaos.Kill, Count: 1}, chaos.Rule{Kind: chaos.FailStart, Pattern: "s", Count: 1})
	f := kill(t, m, "k")
	startErr := m.Inject(context.Background(), "s")
	c := chaos.NewChecker[int](chaos.AllowEscalations(1))
	for _, e := range []actor.Event{
		failedBy("/w", f),
		{Kind: actor.EventFailed, Path: "/w", Err: &actor.StartError{Path: "/w", Err: startErr}},
		{Kind: actor.EventFailed, Path: "/v", Err: errors.New("a real bug")},
		{Kind: actor.EventRestarted, Path: "/w"},
		{Kind: actor.EventRestarted, Path: "/v"},
		{Kind: actor.EventGaveUp, Path: "/x"},
		{Kind: actor.EventEscalated, Path: "/x"},
	} {
		c.Event(e)
	}
	rep := check(c, m)
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprintf("faults %d/%d failures %d injected %d restarts %d gave up %d escalations %d",
		rep.Faults[chaos.Kill], rep.Faults[chaos.FailStart], rep.Failures, rep.FaultFailures, rep.Restarts, rep.GaveUp, rep.Escalations)
	if want := "faults 1/1 failures 3 injected 2 restarts 2 gave up 1 escalations 1"; got != want {
		t.Fatalf("%s; want %s", got, want)
	}
}

func TestCheckerGoroutineBaseline(t *testing.T) {
	// 20 goroutines left behind: goroutines of earlier tests that end
	// meanwhile (a stall's delay) may hide a few of them, not all.
	const n = 20
	release := make(chan struct{})
	defer close(release)
	c := chaos.NewChecker[int](chaos.WithGoroutineBaseline(runtimeGoroutines()))
	var started sync.WaitGroup
	for range n {
		started.Add(1)
		go func() { started.Done(); <-release }()
	}
	started.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	rep := c.Check(ctx, nil)
	if rep.LeakedGoroutines < n/2 || !strings.Contains(rep.Leaks, "TestCheckerGoroutineBaseline") {
		t.Fatalf("LeakedGoroutines %d; want about %d, with their stacks in Leaks", rep.LeakedGoroutines, n)
	}
	if rep.OK() {
		t.Fatal("a leak passed")
	}
}

func TestCheckerGoleak(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	started := make(chan struct{})
	go func() { close(started); <-release }()
	<-started
	c := chaos.NewChecker[int](chaos.WithGoleak())
	rep := c.Check(context.Background(), nil)
	if rep.LeakedGoroutines < 1 || !strings.Contains(rep.Leaks, "TestCheckerGoleak") {
		t.Fatalf("LeakedGoroutines %d; want 1\n%s", rep.LeakedGoroutines, rep.Leaks)
	}
}

func TestCheckerMaybeEntered(t *testing.T) {
	c := chaos.NewChecker[int]()
	feed(c, 3)
	c.MaybeEntered(4) // not taken: neither entered nor lost
	c.MaybeEntered(5) // taken, then dead-lettered
	c.DeadLettered(5)
	rep := check(c, nil)
	if rep.Entered != 4 || len(rep.Lost) != 0 || len(rep.Unknown) != 0 || !slices.Equal(rep.UnexpectedDead, []int{5}) {
		t.Fatalf("report %v, unexpected dead %v", &rep, rep.UnexpectedDead)
	}
}
