// Priority: three priority classes merged in front of a slow consumer,
// with quotas that keep the lower classes from starving.
//
// PriorityMerge takes tiers, highest priority first, each with a quota:
// in each round it takes at most Quota items of a tier, always from the
// highest tier that has an item waiting and quota left. Here critical has
// quota 3, normal and low 1 each: while all three are backlogged the
// consumer gets, per round of 5 items, 3 critical, 1 normal and 1 low:
// 60%, 20%, 20%. Once the critical backlog is gone its share goes to the
// others, and a tier with nothing waiting holds up nobody.
//
// The consumer is slow (200µs an item), so backlogs build up and the
// merge has something to choose from; with a fast consumer there is no
// queue and the merge just passes items on. The first few items are
// picked while the sources are still filling the queues, so their order
// varies.
//
// What to copy: the tiers and quotas, and batches of one item with
// queues of one batch (WithBatchSize, Buffer) when the order matters: the
// merge then picks each item just before the consumer needs it, and the
// backlog waits in front of the merge, not behind it.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/troupe-go/troupe/pipeline"
)

const (
	perClass = 60 // items queued in each class
	// The quotas: items of each class per round.
	criticalQuota, normalQuota, lowQuota = 3, 1, 1
	// normalRatio is the most critical items served in a row while normal
	// ones wait, lowRatio the most critical or normal ones while low ones
	// wait.
	normalRatio = criticalQuota
	lowRatio    = criticalQuota + normalQuota
	// warmup is how many of the first items served are left out of the
	// counts: they were picked while the queues were still filling.
	warmup = 10
)

// Job is one item; Class is 'C' (critical), 'N' (normal) or 'L' (low).
type Job struct {
	Class byte
	N     int
}

func jobs(class byte) []Job {
	out := make([]Job, perClass)
	for i := range out {
		out[i] = Job{Class: class, N: i}
	}
	return out
}

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "priority:", err)
		os.Exit(1)
	}
}

func run(w io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	p := pipeline.New(pipeline.WithBatchSize(1))
	critical := pipeline.FromSlice(p, "critical", jobs('C'))
	normal := pipeline.FromSlice(p, "normal", jobs('N'))
	low := pipeline.FromSlice(p, "low", jobs('L'))
	all := pipeline.PriorityMerge(p, "by-class", []pipeline.Tier[Job]{
		{In: critical, Quota: criticalQuota},
		{In: normal, Quota: normalQuota},
		{In: low, Quota: lowQuota},
	}, pipeline.WithBuffer(1))
	var served []byte // the consumer's only goroutine appends; read after Run
	pipeline.ToFunc(all, "consumer", func(_ context.Context, j Job) error {
		time.Sleep(200 * time.Microsecond) // the consumer's work
		served = append(served, j.Class)
		return nil
	}, pipeline.WithBuffer(1))
	if err := p.Run(ctx); err != nil {
		return err
	}

	for i := 0; i < len(served); i += 60 {
		fmt.Fprintf(w, "served %3d-%3d: %s\n", i+1, min(i+60, len(served)), served[i:min(i+60, len(served))])
	}
	// The shares while all three classes were queued: from the last of
	// their first items served to the first of their last ones.
	order := string(served)
	from := max(warmup, strings.IndexByte(order, 'C'), strings.IndexByte(order, 'N'), strings.IndexByte(order, 'L'))
	to := min(strings.LastIndexByte(order, 'C'), strings.LastIndexByte(order, 'N'), strings.LastIndexByte(order, 'L'))
	if win := order[from : to+1]; from <= to {
		fmt.Fprintf(w, "while all three were queued (served %d-%d): %d critical, %d normal, %d low\n", from+1, to+1,
			strings.Count(win, "C"), strings.Count(win, "N"), strings.Count(win, "L"))
	}
	fmt.Fprintf(w, "longest critical run while normal waited: %d (quota %d)\n",
		longestRun(strings.ReplaceAll(order[warmup:], "L", ""), 'N'), normalRatio)
	fmt.Fprintf(w, "longest critical/normal run while low waited: %d (quota %d)\n", longestRun(order[warmup:], 'L'), lowRatio)
	return nil
}

// longestRun returns the longest run of items other than lower in order,
// between the first and the last lower item.
func longestRun(order string, lower byte) int {
	first, last := strings.IndexByte(order, lower), strings.LastIndexByte(order, lower)
	longest, run := 0, 0
	for i := first; i >= 0 && i <= last; i++ {
		if order[i] == lower {
			run = 0
			continue
		}
		run++
		longest = max(longest, run)
	}
	return longest
}
