package mailbox_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/troupe-go/troupe/mailbox"
)

// This example keeps only the three newest readings: with DropOldest a push
// to a full queue evicts the oldest item, hands it back to the caller and
// counts it.
func ExampleQueue() {
	q, err := mailbox.NewQueue[int](&mailbox.Config{Capacity: 3, Policy: mailbox.DropOldest})
	if err != nil {
		panic(err)
	}
	for reading := 1; reading <= 5; reading++ {
		if old, dropped, err := q.TryPush(reading); err != nil {
			panic(err)
		} else if dropped {
			fmt.Println("dropped", old)
		}
	}
	fmt.Println("queued", q.PopBatch(nil, 0))

	s := q.Stats()
	fmt.Printf("enqueued %d = dequeued %d + dropped oldest %d + len %d\n",
		s.Enqueued, s.Dequeued, s.DroppedOldest, s.Len)
	// Output:
	// dropped 1
	// dropped 2
	// queued [3 4 5]
	// enqueued 5 = dequeued 3 + dropped oldest 2 + len 0
}

// This example runs a mailbox the way an actor runtime does: the schedule
// function starts an owner goroutine, the owner serves the system lane
// before user items and gives the mailbox back with Release, going on if
// work raced in. The mailbox is suspended while it is filled so that one
// owner sees everything and the output is fixed.
func ExampleMailbox() {
	var (
		owners sync.WaitGroup
		mb     *mailbox.Mailbox[string, string]
	)
	owner := func() {
		var batch []string
		for {
			for s, ok := mb.PopSystem(); ok; s, ok = mb.PopSystem() {
				fmt.Println("system:", s)
			}
			batch = mb.PopBatch(batch[:0], 0)
			for _, m := range batch {
				fmt.Println("user:", m)
			}
			if len(batch) > 0 || mb.HasSystem() {
				continue
			}
			if !mb.Release() {
				return // idle: the next post schedules a new owner
			}
		}
	}
	mb, err := mailbox.NewMailbox[string, string](nil, mailbox.SchedulerFunc(func() {
		fmt.Println("schedule")
		owners.Go(owner) // waited for below
	}))
	if err != nil {
		panic(err)
	}

	ctx := context.Background()
	mb.Suspend() // queue without scheduling
	mb.Post(ctx, "hello")
	mb.Post(ctx, "world")
	mb.PostSystem("restart")
	mb.Resume(false) // work is queued: schedule one owner
	owners.Wait()

	mb.Post(ctx, "again") // idle again: schedules a new owner
	owners.Wait()
	// Output:
	// schedule
	// system: restart
	// user: hello
	// user: world
	// schedule
	// user: again
}
