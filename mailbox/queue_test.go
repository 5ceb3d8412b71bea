package mailbox_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/mailbox"
)

// newQueue builds a queue or fails the test.
func newQueue(t testing.TB, cfg *mailbox.Config) *mailbox.Queue[int] {
	t.Helper()
	q, err := mailbox.NewQueue[int](cfg)
	if err != nil {
		t.Fatalf("NewQueue(%+v): got %v; want nil", cfg, err)
	}
	return q
}

// fill pushes items without waiting and fails the test if one is refused.
func fill(t testing.TB, q *mailbox.Queue[int], items ...int) {
	t.Helper()
	for _, m := range items {
		if _, dropped, err := q.TryPush(m); err != nil || dropped {
			t.Fatalf("TryPush(%d): got dropped=%v err=%v; want accepted", m, dropped, err)
		}
	}
}

// seq returns the ints in [from, to).
func seq(from, to int) []int {
	s := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

// conserved checks Enqueued = Dequeued + DroppedNewest + DroppedOldest + Len + Drained.
func conserved(t testing.TB, s mailbox.Stats) {
	t.Helper()
	out := s.Dequeued + s.DroppedNewest + s.DroppedOldest + uint64(s.Len) + s.Drained
	if s.Enqueued != out {
		t.Fatalf("Enqueued %d != Dequeued+DroppedNewest+DroppedOldest+Len+Drained %d (stats %+v)", s.Enqueued, out, s)
	}
}

func TestPolicyString(t *testing.T) {
	cases := []struct {
		p    mailbox.Policy
		want string
	}{
		{mailbox.Block, "block"},
		{mailbox.Reject, "reject"},
		{mailbox.DropNewest, "drop-newest"},
		{mailbox.DropOldest, "drop-oldest"},
		{mailbox.Policy(9), "Policy(9)"},
	}
	for _, c := range cases {
		if got := c.p.String(); got != c.want {
			t.Errorf("Policy(%d).String(): got %q; want %q", uint8(c.p), got, c.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name    string
		cfg     mailbox.Config
		wantErr bool
	}{
		{"zero", mailbox.Config{}, false},
		{"bounded drop-oldest", mailbox.Config{Capacity: 4, Policy: mailbox.DropOldest}, false},
		{"unbounded with policy", mailbox.Config{Policy: mailbox.Reject}, false},
		{"watermarks", mailbox.Config{Capacity: 10, High: 8, Low: 2}, false},
		{"low zero", mailbox.Config{High: 1, Low: 0}, false},
		{"low without high is ignored", mailbox.Config{Low: 5}, false},
		{"negative capacity", mailbox.Config{Capacity: -1}, true},
		{"unknown policy", mailbox.Config{Policy: mailbox.DropOldest + 1}, true},
		{"negative high", mailbox.Config{High: -1}, true},
		{"negative low", mailbox.Config{High: 4, Low: -1}, true},
		{"low equals high", mailbox.Config{High: 4, Low: 4}, true},
		{"low above high", mailbox.Config{High: 4, Low: 5}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			if got := err != nil; got != c.wantErr {
				t.Fatalf("Validate(): got %v; want error=%v", err, c.wantErr)
			}
			q, err := mailbox.NewQueue[int](&c.cfg)
			if got := err != nil; got != c.wantErr {
				t.Fatalf("NewQueue: got %v; want error=%v", err, c.wantErr)
			}
			if c.wantErr && q != nil {
				t.Fatalf("NewQueue: got queue %p with error; want nil", q)
			}
		})
	}
}

func TestQueueNilConfigIsUnbounded(t *testing.T) {
	q := newQueue(t, nil)
	fill(t, q, seq(0, 100)...)
	if got, want := q.Cap(), 0; got != want {
		t.Errorf("Cap(): got %v; want %v", got, want)
	}
	if got, want := q.Len(), 100; got != want {
		t.Errorf("Len(): got %v; want %v", got, want)
	}
}

func TestQueueFIFO(t *testing.T) {
	cases := []struct {
		name  string
		cfg   *mailbox.Config
		n     int
		batch int // PopBatch max; 0 = all
	}{
		{"unbounded all at once", nil, 100, 0},
		{"unbounded batches of 7", nil, 100, 7},
		{"bounded exactly full", &mailbox.Config{Capacity: 16}, 16, 0},
		{"bounded non power of two", &mailbox.Config{Capacity: 10}, 10, 3},
		{"single item", nil, 1, 1},
		{"empty", nil, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := newQueue(t, c.cfg)
			fill(t, q, seq(0, c.n)...)
			var got []int
			for {
				before := len(got)
				got = q.PopBatch(got, c.batch)
				k := len(got) - before
				if k == 0 {
					break
				}
				if c.batch > 0 && k > c.batch {
					t.Fatalf("PopBatch(_, %d) returned %d items; want at most %d", c.batch, k, c.batch)
				}
			}
			if want := seq(0, c.n); !slices.Equal(got, want) {
				t.Fatalf("popped: got %v; want %v", got, want)
			}
			if got := q.Len(); got != 0 {
				t.Fatalf("Len() after draining: got %v; want 0", got)
			}
		})
	}
}

// TestQueueFIFOInterleaved pushes and pops alternately so that the ring's
// head wraps around and the ring grows while wrapped.
func TestQueueFIFOInterleaved(t *testing.T) {
	q := newQueue(t, nil)
	next, want := 0, 0
	for round := range 50 {
		for range round%13 + 1 {
			fill(t, q, next)
			next++
		}
		for _, m := range q.PopBatch(nil, round%5+1) {
			if m != want {
				t.Fatalf("round %d: popped %v; want %v", round, m, want)
			}
			want++
		}
	}
	for _, m := range q.PopBatch(nil, 0) {
		if m != want {
			t.Fatalf("final drain: popped %v; want %v", m, want)
		}
		want++
	}
	if want != next {
		t.Fatalf("popped %v items; want %v", want, next)
	}
}

func TestPopBatchAppends(t *testing.T) {
	q := newQueue(t, nil)
	fill(t, q, 1, 2, 3)
	dst := []int{-1}
	got := q.PopBatch(dst, 2)
	if want := []int{-1, 1, 2}; !slices.Equal(got, want) {
		t.Fatalf("PopBatch([-1], 2): got %v; want %v", got, want)
	}
	if got := q.PopBatch(nil, 0); !slices.Equal(got, []int{3}) {
		t.Fatalf("PopBatch(nil, 0): got %v; want [3]", got)
	}
	if got := q.PopBatch(nil, 0); len(got) != 0 {
		t.Fatalf("PopBatch on empty queue: got %v; want []", got)
	}
}

func TestQueueUnboundedGrowth(t *testing.T) {
	const n = 10_000
	q := newQueue(t, &mailbox.Config{Policy: mailbox.Reject}) // policy is moot when unbounded
	fill(t, q, seq(0, n)...)
	want := mailbox.Stats{Len: n, Enqueued: n}
	if got := q.Stats(); got != want {
		t.Fatalf("Stats() after %d pushes: got %+v; want %+v", n, got, want)
	}
	if got := q.PopBatch(nil, 0); !slices.Equal(got, seq(0, n)) {
		t.Fatalf("PopBatch(nil, 0) after %d pushes: got %d items (first %v); want 0..%d in order", n, len(got), got[:min(len(got), 5)], n-1)
	}
	want = mailbox.Stats{Enqueued: n, Dequeued: n}
	if got := q.Stats(); got != want {
		t.Fatalf("Stats() after draining: got %+v; want %+v", got, want)
	}
}

// TestQueueReleasesStorage checks that a queue that grew large gives its
// ring back when it empties: filling it again must allocate again. Without
// the release, every run after the first reuses the big ring and allocates
// nothing.
func TestQueueReleasesStorage(t *testing.T) {
	q := newQueue(t, nil)
	items := seq(0, 1000)
	dst := make([]int, 0, len(items))
	allocs := testing.AllocsPerRun(10, func() {
		for _, m := range items {
			q.TryPush(m)
		}
		dst = q.PopBatch(dst[:0], 0)
	})
	if allocs < 1 {
		t.Fatalf("allocations per fill/drain cycle of %d items: got %v; want >= 1 (storage not released when empty)", len(items), allocs)
	}
	if got := q.Len(); got != 0 {
		t.Fatalf("Len(): got %v; want 0", got)
	}
}

// TestQueueFullPolicies pushes a fourth item into a full queue of capacity 3
// under every policy, with Push and TryPush.
func TestQueueFullPolicies(t *testing.T) {
	cases := []struct {
		policy      mailbox.Policy
		try         bool // TryPush instead of Push
		wantErr     error
		wantDropped int // meaningful when wantWas
		wantWas     bool
		wantItems   []int
		wantStats   mailbox.Stats // after the queue is drained by PopBatch
	}{
		{
			policy: mailbox.Block, try: true, wantErr: mailbox.ErrFull,
			wantItems: []int{1, 2, 3},
			wantStats: mailbox.Stats{Capacity: 3, Enqueued: 3, Dequeued: 3, Rejected: 1},
		},
		{
			policy: mailbox.Reject, wantErr: mailbox.ErrFull,
			wantItems: []int{1, 2, 3},
			wantStats: mailbox.Stats{Capacity: 3, Enqueued: 3, Dequeued: 3, Rejected: 1},
		},
		{
			policy: mailbox.Reject, try: true, wantErr: mailbox.ErrFull,
			wantItems: []int{1, 2, 3},
			wantStats: mailbox.Stats{Capacity: 3, Enqueued: 3, Dequeued: 3, Rejected: 1},
		},
		{
			policy: mailbox.DropNewest, wantDropped: 4, wantWas: true,
			wantItems: []int{1, 2, 3},
			wantStats: mailbox.Stats{Capacity: 3, Enqueued: 4, Dequeued: 3, DroppedNewest: 1},
		},
		{
			policy: mailbox.DropNewest, try: true, wantDropped: 4, wantWas: true,
			wantItems: []int{1, 2, 3},
			wantStats: mailbox.Stats{Capacity: 3, Enqueued: 4, Dequeued: 3, DroppedNewest: 1},
		},
		{
			policy: mailbox.DropOldest, wantDropped: 1, wantWas: true,
			wantItems: []int{2, 3, 4},
			wantStats: mailbox.Stats{Capacity: 3, Enqueued: 4, Dequeued: 3, DroppedOldest: 1},
		},
		{
			policy: mailbox.DropOldest, try: true, wantDropped: 1, wantWas: true,
			wantItems: []int{2, 3, 4},
			wantStats: mailbox.Stats{Capacity: 3, Enqueued: 4, Dequeued: 3, DroppedOldest: 1},
		},
	}
	for _, c := range cases {
		name := c.policy.String() + "/Push"
		if c.try {
			name = c.policy.String() + "/TryPush"
		}
		t.Run(name, func(t *testing.T) {
			q := newQueue(t, &mailbox.Config{Capacity: 3, Policy: c.policy})
			fill(t, q, 1, 2, 3)
			var (
				dropped int
				was     bool
				err     error
			)
			if c.try {
				dropped, was, err = q.TryPush(4)
			} else {
				dropped, was, err = q.Push(context.Background(), 4)
			}
			if !errors.Is(err, c.wantErr) || (c.wantErr == nil && err != nil) {
				t.Fatalf("push 4: got err %v; want %v", err, c.wantErr)
			}
			if was != c.wantWas || (c.wantWas && dropped != c.wantDropped) {
				t.Fatalf("push 4: got dropped=(%v, %v); want (%v, %v)", dropped, was, c.wantDropped, c.wantWas)
			}
			if !c.wantWas && dropped != 0 {
				t.Fatalf("push 4: got dropped item %v with wasDropped=false; want zero value", dropped)
			}
			if got := q.Len(); got != 3 {
				t.Fatalf("Len() after push 4: got %v; want 3", got)
			}
			conserved(t, q.Stats())
			if got := q.PopBatch(nil, 0); !slices.Equal(got, c.wantItems) {
				t.Fatalf("PopBatch: got %v; want %v", got, c.wantItems)
			}
			if got := q.Stats(); got != c.wantStats {
				t.Fatalf("Stats(): got %+v; want %+v", got, c.wantStats)
			}
		})
	}
}

// TestQueueBlockWaitsForSpace runs in a synctest bubble, where
// synctest.Wait returns only once the pusher is durably blocked, so the
// test knows the push is waiting rather than merely not yet started.
func TestQueueBlockWaitsForSpace(t *testing.T) {
	cases := []struct {
		name string
		ctx  func(t *testing.T) context.Context
	}{
		{"background ctx", func(*testing.T) context.Context { return context.Background() }},
		{"cancelable ctx", func(t *testing.T) context.Context { return t.Context() }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				q := newQueue(t, &mailbox.Config{Capacity: 2})
				fill(t, q, 1, 2)
				pushed := make(chan error, 1)
				go func() { // ends when Push returns; the test receives from pushed
					_, _, err := q.Push(c.ctx(t), 3)
					pushed <- err
				}()
				synctest.Wait()
				select {
				case err := <-pushed:
					t.Fatalf("Push on a full Block queue returned %v; want it to wait", err)
				default:
				}
				if got := q.PopBatch(nil, 1); !slices.Equal(got, []int{1}) {
					t.Fatalf("PopBatch(nil, 1): got %v; want [1]", got)
				}
				if err := <-pushed; err != nil {
					t.Fatalf("Push after space freed: got %v; want nil", err)
				}
				if got := q.PopBatch(nil, 0); !slices.Equal(got, []int{2, 3}) {
					t.Fatalf("PopBatch: got %v; want [2 3]", got)
				}
			})
		})
	}
}

// TestQueueBlockManyWaiters blocks three pushers on a queue of capacity 1
// and frees one slot at a time: each pop must let exactly one of them in.
func TestQueueBlockManyWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newQueue(t, &mailbox.Config{Capacity: 1})
		fill(t, q, 0)
		const waiters = 3
		pushed := make(chan error, waiters)
		for i := 1; i <= waiters; i++ {
			go func() { // ends when Push returns; the test receives from pushed
				_, _, err := q.Push(context.Background(), i)
				pushed <- err
			}()
		}
		var got []int
		for i := range waiters {
			synctest.Wait()
			if n := len(pushed); n != 0 {
				t.Fatalf("after %d pops: got %d more finished pushes; want 0", i, n)
			}
			got = q.PopBatch(got, 0)
			if err := <-pushed; err != nil {
				t.Fatalf("Push: got %v; want nil", err)
			}
		}
		got = q.PopBatch(got, 0)
		slices.Sort(got)
		if want := []int{0, 1, 2, 3}; !slices.Equal(got, want) {
			t.Fatalf("popped (sorted): got %v; want %v", got, want)
		}
	})
}

func TestQueueBlockContext(t *testing.T) {
	cases := []struct {
		name string
		ctx  func(parent context.Context) (context.Context, context.CancelFunc)
		// cancelWhileBlocked makes the test cancel ctx once the push waits;
		// otherwise only the ctx itself (its deadline) ends the wait.
		cancelWhileBlocked bool
		wantErr            error
	}{
		{
			name:               "cancelled while waiting",
			ctx:                context.WithCancel,
			cancelWhileBlocked: true,
			wantErr:            context.Canceled,
		},
		{
			name: "cancelled before the push",
			ctx: func(p context.Context) (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(p)
				cancel()
				return ctx, cancel
			},
			wantErr: context.Canceled,
		},
		{
			name: "deadline passes while waiting",
			ctx: func(p context.Context) (context.Context, context.CancelFunc) {
				return context.WithTimeout(p, time.Second)
			},
			wantErr: context.DeadlineExceeded,
		},
		{
			name: "deadline already passed",
			ctx: func(p context.Context) (context.Context, context.CancelFunc) {
				return context.WithDeadline(p, time.Unix(0, 0))
			},
			wantErr: context.DeadlineExceeded,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				q := newQueue(t, &mailbox.Config{Capacity: 2})
				fill(t, q, 1, 2)
				ctx, cancel := c.ctx(t.Context())
				defer cancel()
				pushed := make(chan error, 1)
				go func() { // ends when Push returns; the test receives from pushed
					_, _, err := q.Push(ctx, 3)
					pushed <- err
				}()
				synctest.Wait()
				if c.cancelWhileBlocked {
					if n := len(pushed); n != 0 {
						t.Fatalf("Push returned %v before cancel; want it to wait", <-pushed)
					}
					cancel()
				}
				// With every goroutine blocked, the bubble's clock jumps to
				// the deadline, if there is one.
				err := <-pushed
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("Push: got %v; want an error matching %v", err, c.wantErr)
				}
				want := mailbox.Stats{Len: 2, Capacity: 2, Enqueued: 2}
				if got := q.Stats(); got != want {
					t.Fatalf("Stats() after abandoned push: got %+v; want %+v", got, want)
				}
				if got := q.PopBatch(nil, 0); !slices.Equal(got, []int{1, 2}) {
					t.Fatalf("PopBatch: got %v; want [1 2]", got)
				}
			})
		})
	}
}

func TestQueueCloseWakesBlockedPusher(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newQueue(t, &mailbox.Config{Capacity: 2})
		fill(t, q, 1, 2)
		pushed := make(chan error, 2)
		for _, ctx := range []context.Context{context.Background(), nil} {
			go func() { // ends when Push returns; the test receives from pushed
				_, _, err := q.Push(ctx, 3)
				pushed <- err
			}()
		}
		synctest.Wait()
		if n := len(pushed); n != 0 {
			t.Fatalf("got %d pushes returned before Close; want 0", n)
		}
		rest := q.Close()
		if want := []int{1, 2}; !slices.Equal(rest, want) {
			t.Fatalf("Close(): got %v; want %v", rest, want)
		}
		for range 2 {
			if err := <-pushed; !errors.Is(err, mailbox.ErrClosed) {
				t.Fatalf("blocked Push after Close: got %v; want %v", err, mailbox.ErrClosed)
			}
		}
		want := mailbox.Stats{Capacity: 2, Enqueued: 2, Drained: 2}
		if got := q.Stats(); got != want {
			t.Fatalf("Stats() after Close: got %+v; want %+v", got, want)
		}
	})
}

func TestQueueClose(t *testing.T) {
	for _, policy := range []mailbox.Policy{mailbox.Block, mailbox.Reject, mailbox.DropNewest, mailbox.DropOldest} {
		t.Run(policy.String(), func(t *testing.T) {
			q := newQueue(t, &mailbox.Config{Capacity: 4, Policy: policy})
			fill(t, q, 1, 2, 3)
			q.PopBatch(nil, 1)
			if q.Closed() {
				t.Fatalf("Closed() before Close: got true; want false")
			}
			if got, want := q.Close(), []int{2, 3}; !slices.Equal(got, want) {
				t.Fatalf("Close(): got %v; want %v", got, want)
			}
			if !q.Closed() {
				t.Fatalf("Closed() after Close: got false; want true")
			}
			if got := q.Close(); got != nil {
				t.Fatalf("second Close(): got %v; want nil", got)
			}
			if _, _, err := q.TryPush(4); !errors.Is(err, mailbox.ErrClosed) {
				t.Fatalf("TryPush after Close: got %v; want %v", err, mailbox.ErrClosed)
			}
			if _, _, err := q.Push(context.Background(), 5); !errors.Is(err, mailbox.ErrClosed) {
				t.Fatalf("Push after Close: got %v; want %v", err, mailbox.ErrClosed)
			}
			if got := q.PopBatch(nil, 0); len(got) != 0 {
				t.Fatalf("PopBatch after Close: got %v; want []", got)
			}
			if got := q.Len(); got != 0 {
				t.Fatalf("Len() after Close: got %v; want 0", got)
			}
			want := mailbox.Stats{Capacity: 4, Enqueued: 3, Dequeued: 1, Drained: 2}
			if got := q.Stats(); got != want {
				t.Fatalf("Stats(): got %+v; want %+v", got, want)
			}
		})
	}
}

func TestQueueCloseEmpty(t *testing.T) {
	q := newQueue(t, nil)
	if got := q.Close(); len(got) != 0 {
		t.Fatalf("Close() on empty queue: got %v; want []", got)
	}
	if got, want := q.Stats(), (mailbox.Stats{}); got != want {
		t.Fatalf("Stats(): got %+v; want %+v", got, want)
	}
}

// TestQueueStatsConservation runs random single-goroutine programs and
// checks the counter identity after every operation, and that the counters
// agree with what the calls returned.
func TestQueueStatsConservation(t *testing.T) {
	cases := []struct {
		name string
		cfg  mailbox.Config
	}{
		{"unbounded", mailbox.Config{}},
		{"block", mailbox.Config{Capacity: 5, Policy: mailbox.Block}},
		{"reject", mailbox.Config{Capacity: 5, Policy: mailbox.Reject}},
		{"drop-newest", mailbox.Config{Capacity: 5, Policy: mailbox.DropNewest}},
		{"drop-oldest", mailbox.Config{Capacity: 5, Policy: mailbox.DropOldest}},
		{"drop-oldest capacity 1", mailbox.Config{Capacity: 1, Policy: mailbox.DropOldest}},
		{"drop-oldest watermarks", mailbox.Config{Capacity: 8, Policy: mailbox.DropOldest, High: 6, Low: 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for seed := range uint64(20) {
				r := rand.New(rand.NewPCG(seed, 0x5eed))
				q := newQueue(t, &c.cfg)
				var accepted, refused, popped, dropped, drained uint64
				for range 500 {
					switch op := r.IntN(20); {
					case op < 11:
						var err error
						var was bool
						if c.cfg.Policy == mailbox.Block && c.cfg.Capacity > 0 {
							_, was, err = q.TryPush(0)
						} else {
							_, was, err = q.Push(context.Background(), 0)
						}
						switch {
						case err == nil:
							accepted++
							if was {
								dropped++
							}
						case errors.Is(err, mailbox.ErrFull):
							refused++
						case !errors.Is(err, mailbox.ErrClosed):
							t.Fatalf("seed %d: push: got %v; want nil, ErrFull or ErrClosed", seed, err)
						}
					case op < 19:
						popped += uint64(len(q.PopBatch(nil, r.IntN(4))))
					default:
						if r.IntN(10) == 0 {
							drained += uint64(len(q.Close()))
						}
					}
					s := q.Stats()
					conserved(t, s)
					if s.Enqueued != accepted || s.Rejected != refused || s.Dequeued != popped ||
						s.DroppedNewest+s.DroppedOldest != dropped || s.Drained != drained {
						t.Fatalf("seed %d: Stats() %+v; want Enqueued %d Rejected %d Dequeued %d Dropped %d Drained %d",
							seed, s, accepted, refused, popped, dropped, drained)
					}
					if got := q.Len(); got != s.Len {
						t.Fatalf("seed %d: Len(): got %v; want Stats().Len %v", seed, got, s.Len)
					}
					if c.cfg.Capacity > 0 && s.Len > c.cfg.Capacity {
						t.Fatalf("seed %d: Len %d exceeds capacity %d", seed, s.Len, c.cfg.Capacity)
					}
				}
			}
		})
	}
}

func TestQueueWatermarks(t *testing.T) {
	// Each op pushes n items one by one (n > 0) or pops -n items in one
	// PopBatch (n < 0).
	cases := []struct {
		name string
		cfg  mailbox.Config
		ops  []int
		want []mailbox.Watermark
	}{
		{
			name: "below high: nothing",
			cfg:  mailbox.Config{High: 4, Low: 1},
			ops:  []int{3, -3, 3},
			want: nil,
		},
		{
			name: "high once on reaching high",
			cfg:  mailbox.Config{High: 4, Low: 1},
			ops:  []int{4, 10},
			want: []mailbox.Watermark{mailbox.High},
		},
		{
			name: "no low until at or below low",
			cfg:  mailbox.Config{High: 4, Low: 1},
			ops:  []int{5, -3, 2, -2},
			want: []mailbox.Watermark{mailbox.High},
		},
		{
			name: "low once on falling to low",
			cfg:  mailbox.Config{High: 4, Low: 1},
			ops:  []int{5, -4, -1},
			want: []mailbox.Watermark{mailbox.High, mailbox.Low},
		},
		{
			name: "alternating",
			cfg:  mailbox.Config{High: 4, Low: 1},
			ops:  []int{4, -3, 3, -4, 2, 2, 1, -5},
			want: []mailbox.Watermark{mailbox.High, mailbox.Low, mailbox.High, mailbox.Low, mailbox.High, mailbox.Low},
		},
		{
			name: "oscillating between low and high reports nothing new",
			cfg:  mailbox.Config{High: 6, Low: 2},
			ops:  []int{6, -1, 1, -1, 1, -3, 3, -3},
			want: []mailbox.Watermark{mailbox.High},
		},
		{
			name: "low zero waits for empty",
			cfg:  mailbox.Config{High: 2},
			ops:  []int{2, -1, 1, -2},
			want: []mailbox.Watermark{mailbox.High, mailbox.Low},
		},
		{
			name: "pop past low in one batch",
			cfg:  mailbox.Config{High: 8, Low: 3},
			ops:  []int{10, -10},
			want: []mailbox.Watermark{mailbox.High, mailbox.Low},
		},
		{
			name: "drop-oldest at capacity does not repeat high",
			cfg:  mailbox.Config{Capacity: 3, Policy: mailbox.DropOldest, High: 3, Low: 1},
			ops:  []int{3, 5, -2, 5, -3},
			want: []mailbox.Watermark{mailbox.High, mailbox.Low, mailbox.High, mailbox.Low},
		},
		{
			name: "drop-newest at capacity does not repeat high",
			cfg:  mailbox.Config{Capacity: 3, Policy: mailbox.DropNewest, High: 2, Low: 1},
			ops:  []int{6, -2},
			want: []mailbox.Watermark{mailbox.High, mailbox.Low},
		},
		{
			name: "disabled",
			cfg:  mailbox.Config{High: 0, Low: 0},
			ops:  []int{100, -100},
			want: nil,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []mailbox.Watermark
			cfg := c.cfg
			cfg.OnWatermark = func(w mailbox.Watermark) { got = append(got, w) }
			q := newQueue(t, &cfg)
			for _, n := range c.ops {
				if n > 0 {
					for range n {
						if _, _, err := q.TryPush(0); err != nil {
							t.Fatalf("TryPush: got %v; want nil", err)
						}
					}
				}
				if n < 0 {
					if k := len(q.PopBatch(nil, -n)); k != -n {
						t.Fatalf("PopBatch(nil, %d): got %d items; want %d", -n, k, -n)
					}
				}
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("watermarks: got %v; want %v", got, c.want)
			}
		})
	}
}

func TestQueuePopOne(t *testing.T) {
	var events []mailbox.Watermark
	q := newQueue(t, &mailbox.Config{High: 3, Low: 1, OnWatermark: func(w mailbox.Watermark) { events = append(events, w) }})
	if m, ok := q.PopOne(); ok {
		t.Fatalf("PopOne() on empty queue: got (%v, true); want (0, false)", m)
	}
	fill(t, q, 1, 2, 3)
	var got []int
	for {
		m, ok := q.PopOne()
		if !ok {
			break
		}
		got = append(got, m)
	}
	if want := []int{1, 2, 3}; !slices.Equal(got, want) {
		t.Fatalf("PopOne sequence: got %v; want %v", got, want)
	}
	if want := []mailbox.Watermark{mailbox.High, mailbox.Low}; !slices.Equal(events, want) {
		t.Fatalf("watermarks: got %v; want %v", events, want)
	}
	want := mailbox.Stats{Enqueued: 3, Dequeued: 3}
	if got := q.Stats(); got != want {
		t.Fatalf("Stats(): got %+v; want %+v", got, want)
	}
}

func TestQueuePopOneWakesBlockedPusher(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newQueue(t, &mailbox.Config{Capacity: 1})
		fill(t, q, 1)
		pushed := make(chan error, 1)
		go func() { // ends when Push returns; the test receives from pushed
			_, _, err := q.Push(context.Background(), 2)
			pushed <- err
		}()
		synctest.Wait()
		if n := len(pushed); n != 0 {
			t.Fatalf("Push on a full queue returned %v; want it to wait", <-pushed)
		}
		if m, ok := q.PopOne(); !ok || m != 1 {
			t.Fatalf("PopOne(): got (%v, %v); want (1, true)", m, ok)
		}
		if err := <-pushed; err != nil {
			t.Fatalf("Push after PopOne: got %v; want nil", err)
		}
		if m, ok := q.PopOne(); !ok || m != 2 {
			t.Fatalf("PopOne(): got (%v, %v); want (2, true)", m, ok)
		}
	})
}
