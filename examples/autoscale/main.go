// Autoscale: a stage that grows under a burst and shrinks after it.
//
// A source sends a burst of jobs faster than one worker can handle them
// (one every 2 ms, 10 ms of work each), then a trickle (one every 50 ms).
// The "work" stage has Autoscale(Scale{Min: 1, Max: 4}): its autoscaler
// samples the queue depth and the workers' utilisation every 50 ms, adds a
// worker when the queue stays full for two samples in a row, and removes
// one when the queue stayed nearly empty and the others could take the
// load for three samples in a row. So the stage goes from 1 worker to 4
// during the burst, and back to 1 during the trickle.
//
// The program prints the number of active workers each time it changes
// (read from StageStats.Workers), the autoscaler's decisions
// (ScaleUps, ScaleDowns) and the totals.
//
// What to copy: the Scale (sampling interval and sample counts sized for
// how fast the load changes), and batches of one item (WithBatchSize(1))
// for slow items, so the queue depth the autoscaler sees is in items.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/pipeline"
)

const (
	burst, burstEvery     = 300, 2 * time.Millisecond
	trickle, trickleEvery = 20, 50 * time.Millisecond
	work                  = 10 * time.Millisecond
	minWorkers            = 1
	maxWorkers            = 4
)

// scale is the autoscaler's configuration.
var scale = pipeline.Scale{Min: minWorkers, Max: maxWorkers, Every: 50 * time.Millisecond, UpAfter: 2, DownAfter: 3}

// Result is what a run saw.
type Result struct {
	Workers       []int // active workers, each time the number changed
	Used          int   // distinct worker actors that handled a job
	Stats         pipeline.StageStats
	Sum, Received int
}

func main() {
	res, err := run(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "autoscale:", err)
		os.Exit(1)
	}
	report(os.Stdout, res)
}

func report(w io.Writer, r Result) {
	steps := make([]string, len(r.Workers))
	for i, n := range r.Workers {
		steps[i] = fmt.Sprint(n)
	}
	fmt.Fprintf(w, "active workers over time: %s\n", strings.Join(steps, " -> "))
	fmt.Fprintf(w, "scale-ups %d, scale-downs %d, %d worker actors used\n", r.Stats.ScaleUps, r.Stats.ScaleDowns, r.Used)
	fmt.Fprintf(w, "jobs: %d in, %d out, %d received by the sink, sum %d\n", r.Stats.In, r.Stats.Out, r.Received, r.Sum)
}

func run(ctx context.Context) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	var mu sync.Mutex // guards used
	used := map[string]bool{}
	p := pipeline.New(pipeline.WithBatchSize(1))
	jobs := pipeline.FromFunc(p, "jobs", func(ctx context.Context, emit func(int) error) error {
		for i := range burst + trickle {
			every := burstEvery
			if i >= burst {
				every = trickleEvery
			}
			select {
			case <-time.After(every):
			case <-ctx.Done():
				return ctx.Err()
			}
			if err := emit(i); err != nil {
				return err
			}
		}
		return nil
	})
	done := pipeline.Map(jobs, "work", func(ctx context.Context, job int) (int, error) {
		mu.Lock()
		used[ctx.(actor.Context).Path()] = true
		mu.Unlock()
		select {
		case <-time.After(work):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		return job, nil
	}, pipeline.WithAutoscale(scale), pipeline.WithBuffer(8))
	var res Result
	pipeline.ToFunc(done, "sink", func(_ context.Context, job int) error {
		res.Sum += job // one sink worker: no lock needed; read after Run
		res.Received++
		return nil
	})
	if err := p.Start(ctx); err != nil {
		return res, err
	}

	// Watch the number of active workers: sample more often than the
	// autoscaler decides, so no change is missed.
	tk := time.NewTicker(scale.Every / 5)
	defer tk.Stop()
	res.Workers = []int{minWorkers}
	for watching := true; watching; {
		select {
		case <-tk.C:
		case <-p.Done():
			watching = false
		}
		if s, _ := p.StageStats("work"); s.Workers != res.Workers[len(res.Workers)-1] {
			res.Workers = append(res.Workers, s.Workers)
		}
	}
	if err := p.Wait(ctx); err != nil {
		return res, err
	}
	res.Stats, _ = p.StageStats("work")
	res.Used = len(used)
	return res, nil
}
