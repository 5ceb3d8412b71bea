// Priority: three priority classes merged in front of a slow consumer,
// with quotas that keep the lower classes from starving.
//
// PriorityMerge has two inputs, high and low: it takes high items first,
// but whenever a low item is waiting, at most ratio high items pass before
// the next low one. Three classes are two merges: critical over normal
// (ratio 3), and that over low (ratio 4). While all three are backlogged
// the consumer gets, per 5 items, 4 from the first merge (3 critical and 1
// normal) and 1 low: 60%, 20%, 20%. Once the critical backlog is gone its
// share goes to the others, and normal and low still get theirs.
//
// The consumer is slow (200µs an item), so backlogs build up and the
// merges have something to choose from; with a fast consumer there is no
// queue and the merges just pass items on. The first few items are picked
// while the sources are still filling the queues, so their order varies.
//
// What to copy: the nested PriorityMerge, and batches of one item with
// queues of one batch (WithBatchSize, Buffer) when the order matters: a
// merge then picks each item just before the consumer needs it, and the
// backlog waits in front of the merges, not behind them.
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
	perClass    = 60 // items queued in each class
	normalRatio = 3  // critical items per normal item while normal ones wait
	lowRatio    = 4  // critical or normal items per low item while low ones wait
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
	urgent := pipeline.PriorityMerge("critical>normal", critical, normal, normalRatio, pipeline.Buffer(1))
	all := pipeline.PriorityMerge("urgent>low", urgent, low, lowRatio, pipeline.Buffer(1))
	var served []byte // the consumer's only goroutine appends; read after Run
	pipeline.ToFunc(all, "consumer", func(_ context.Context, j Job) error {
		time.Sleep(200 * time.Microsecond) // the consumer's work
		served = append(served, j.Class)
		return nil
	}, pipeline.Buffer(1))
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
