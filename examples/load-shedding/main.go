// Load-shedding: a stage that drops what it cannot keep up with, and
// counts every item it drops.
//
// Requests arrive every millisecond; the "score" stage needs 3 ms for
// one, with a mailbox of 4. With the default Overflow(mailbox.Block) the
// source would wait (backpressure, and the requests would queue up in
// front of the pipeline). With Overflow(mailbox.DropNewest) the stage
// sheds load instead: a request that finds the mailbox full is dropped at
// once, and the source goes on with the next one. Dropping is never
// silent: every dropped request is a dead letter with DeadDropped,
// counted in the stage's DeadLettered, and the accounting law still holds
// for every stage: In = Out + Filtered + DeadLettered.
//
// What to copy: Overflow with a drop policy on the stage in front of the
// slow work, batches of one item (a drop policy drops whole batches), and
// reading the dropped items back from the dead-letter store.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/troupe-go/troupe/mailbox"
	"github.com/troupe-go/troupe/pipeline"
)

const (
	requests   = 300
	arrival    = time.Millisecond     // between two requests
	scoreTime  = 3 * time.Millisecond // to score one
	mailboxCap = 4
)

// Result is what a run saw.
type Result struct {
	Scored  []int // the requests scored, in order
	Dropped []int // the requests in the dead-letter store as overflow
	Stats   []pipeline.StageStats
}

func main() {
	res, err := run(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "load-shedding:", err)
		os.Exit(1)
	}
	report(os.Stdout, res)
}

func report(w io.Writer, r Result) {
	fmt.Fprintf(w, "offered %d requests: %d scored, %d shed (dead letters with reason overflow)\n",
		requests, len(r.Scored), len(r.Dropped))
	for _, s := range r.Stats {
		fmt.Fprintf(w, "%-8s in=%-3d out=%-3d filtered=%d dead-lettered=%-3d  in = out + filtered + dead-lettered: %v\n",
			s.Name, s.In, s.Out, s.Filtered, s.DeadLettered, s.In == s.Out+s.Filtered+s.DeadLettered)
	}
}

func run(ctx context.Context) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	p := pipeline.New(pipeline.WithBatchSize(1))
	reqs := pipeline.FromFunc(p, "requests", func(ctx context.Context, emit func(int) error) error {
		tk := time.NewTicker(arrival)
		defer tk.Stop()
		for i := range requests {
			select {
			case <-tk.C:
			case <-ctx.Done():
				return ctx.Err()
			}
			if err := emit(i); err != nil {
				return err
			}
		}
		return nil
	})
	scored := pipeline.Map(reqs, "score", func(ctx context.Context, req int) (int, error) {
		select {
		case <-time.After(scoreTime):
			return req, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}, pipeline.WithBuffer(mailboxCap), pipeline.WithOverflow(mailbox.DropNewest))
	var res Result
	pipeline.ToFunc(scored, "respond", func(_ context.Context, req int) error {
		res.Scored = append(res.Scored, req) // one sink worker; read after Run
		return nil
	})
	if err := p.Run(ctx); err != nil {
		return res, err
	}
	for _, d := range p.DeadLetters().List(func(d pipeline.DeadLetter) bool { return d.Reason == pipeline.DeadDropped }) {
		res.Dropped = append(res.Dropped, d.Item.(int))
	}
	res.Stats = p.Stats()
	return res, nil
}
