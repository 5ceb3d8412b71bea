package sched_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/troupe-go/troupe/internal/sched"
)

// This example runs a mailbox the way an actor runtime does: the schedule
// function starts an owner goroutine, the owner serves the system lane
// before user items and gives the mailbox back with Release, going on if
// work raced in. The mailbox is suspended while it is filled so that one
// owner sees everything and the output is fixed.
func Example() {
	var (
		owners sync.WaitGroup
		mb     *sched.Mailbox[string, string]
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
	mb, err := sched.NewMailbox[string, string](nil, sched.SchedulerFunc(func() {
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
