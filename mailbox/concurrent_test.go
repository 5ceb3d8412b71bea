package mailbox_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/troupe-go/troupe/mailbox"
)

// tagged is an item that knows who pushed it and in which order.
type tagged struct{ sender, seq int }

// spinner lets a polling loop yield the processor and gives up, with every
// goroutine's stack, once the test's time budget is spent.
type spinner struct {
	t     testing.TB
	what  string
	until time.Time
	n     int
}

func newSpinner(t testing.TB, what string) *spinner {
	return &spinner{t: t, what: what, until: time.Now().Add(budget(t))}
}

func (s *spinner) spin() {
	s.t.Helper()
	runtime.Gosched()
	if s.n++; s.n%1024 == 0 && time.Now().After(s.until) {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		s.t.Fatalf("timed out waiting for %s; goroutines:\n%s", s.what, buf)
	}
}

// TestQueueConcurrentBlock has 8 producers push 10k tagged items each into a
// Block queue of capacity 64 while one consumer pops batches. Every item
// must come out exactly once and each producer's items in push order.
func TestQueueConcurrentBlock(t *testing.T) {
	const (
		producers = 8
		perSender = 10_000
		capacity  = 64
		total     = producers * perSender
	)
	q, err := mailbox.NewQueue[tagged](&mailbox.Config{Capacity: capacity, Policy: mailbox.Block})
	if err != nil {
		t.Fatalf("NewQueue: got %v; want nil", err)
	}
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() { // ends after its last push; joined below
			for i := range perSender {
				if _, _, err := q.Push(context.Background(), tagged{p, i}); err != nil {
					t.Errorf("producer %d: Push(%d): got %v; want nil", p, i, err)
					return
				}
			}
		})
	}
	producersDone := done(wg.Wait)

	var next [producers]int // next expected seq per sender
	sp := newSpinner(t, "the consumer to receive every item")
	batch := make([]tagged, 0, capacity)
	for got := 0; got < total; {
		batch = q.PopBatch(batch[:0], 0)
		if len(batch) > capacity {
			t.Fatalf("PopBatch returned %d items from a queue of capacity %d", len(batch), capacity)
		}
		if len(batch) == 0 {
			select {
			case <-producersDone:
				if q.Len() == 0 {
					t.Fatalf("producers finished and the queue is empty, but only %d of %d items arrived", got, total)
				}
			default:
			}
			sp.spin()
			continue
		}
		for _, m := range batch {
			if m.sender < 0 || m.sender >= producers {
				t.Fatalf("popped item from unknown sender %d", m.sender)
			}
			if m.seq != next[m.sender] {
				t.Fatalf("sender %d: popped seq %d; want %d (lost, duplicated or reordered)", m.sender, m.seq, next[m.sender])
			}
			next[m.sender]++
		}
		got += len(batch)
	}
	recv(t, producersDone, "producers to finish")
	if rest := q.PopBatch(nil, 0); len(rest) != 0 {
		t.Fatalf("items left after all %d were received: got %v; want none", total, rest)
	}
	want := mailbox.Stats{Capacity: capacity, Enqueued: total, Dequeued: total}
	if got := q.Stats(); got != want {
		t.Fatalf("Stats(): got %+v; want %+v", got, want)
	}
}

// TestTryPushContendedBlock hammers TryPush on a Block queue of capacity 1
// while a consumer empties it. TryPush must only ever succeed or return
// ErrFull, and every ErrFull must be counted as Rejected. A TryPush that
// checks for space and then pushes in a second critical section returns
// context.Canceled when another pusher fills the queue in between; the
// window is narrow, and this test hits it in most runs under -race.
func TestTryPushContendedBlock(t *testing.T) {
	const (
		pushers   = 8
		perPusher = 25_000
	)
	q := newQueue(t, &mailbox.Config{Capacity: 1, Policy: mailbox.Block})
	var (
		wg                 sync.WaitGroup
		mu                 sync.Mutex // guards accepted, refused
		accepted, refused  uint64
		popped             uint64 // written only by the consumer, read after consumerDone
		stop               = make(chan struct{})
		errOnce            sync.Once
		firstUnexpectedErr error
	)
	for range pushers {
		wg.Go(func() { // ends after its last TryPush; joined below
			var a, r uint64
			for i := range perPusher {
				_, _, err := q.TryPush(i)
				switch {
				case err == nil:
					a++
				case errors.Is(err, mailbox.ErrFull):
					r++
				default:
					errOnce.Do(func() { firstUnexpectedErr = err })
				}
			}
			mu.Lock()
			accepted += a
			refused += r
			mu.Unlock()
		})
	}
	consumerDone := done(func() { // the consumer; ends when stop is closed
		var b []int
		for {
			select {
			case <-stop:
				return
			default:
			}
			b = q.PopBatch(b[:0], 0)
			popped += uint64(len(b))
			runtime.Gosched()
		}
	})
	recv(t, done(wg.Wait), "pushers to finish")
	close(stop)
	recv(t, consumerDone, "consumer to stop")
	popped += uint64(len(q.PopBatch(nil, 0)))

	if firstUnexpectedErr != nil {
		t.Fatalf("TryPush on a contended Block queue: got %v; want nil or %v", firstUnexpectedErr, mailbox.ErrFull)
	}
	if accepted+refused != pushers*perPusher {
		t.Fatalf("accepted %d + refused %d: got %d; want %d", accepted, refused, accepted+refused, pushers*perPusher)
	}
	want := mailbox.Stats{Capacity: 1, Enqueued: accepted, Dequeued: accepted, Rejected: refused}
	if got := q.Stats(); got != want {
		t.Fatalf("Stats(): got %+v; want %+v", got, want)
	}
	if popped != accepted {
		t.Fatalf("popped: got %d; want %d", popped, accepted)
	}
}
