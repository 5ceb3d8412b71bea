// Streaming-aggregation: per-user totals over a stream of raw events,
// sharded by user, flushed periodically to a flaky store.
//
// Raw events arrive in bursts. Four decode workers parse them (Map with
// Workers(4)); a malformed event fails its only attempt and goes to the
// dead-letter store. A Keyed stage shards the events by user over three
// workers: Keyed routes with ByKey on its Key, so every event of a user
// reaches the same worker, which folds it into that user's running total
// and flushes the total every 10ms and at the end of the stream. One
// writer (ToFunc) adds each flushed partial total to the store, which
// fails now and then; Retry attempts each write up to three times, with
// backoff.
//
// What to copy: Retry(1, ...) on a parse stage (a parse error is not
// worth retrying), a KeyedSpec whose Flush emits the delta and drops the
// state, Retry with a backoff on the sink, and the dead letters and stage
// counters read after Run.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/pipeline"
	"github.com/troupe-go/troupe/strategy"
)

const events, burst = 1000, 250 // events in the stream, and per burst

var users = []string{"alice", "bob", "carol", "dave", "erin", "frank"}

// Event is a decoded event.
type Event struct {
	User   string
	Amount int
}

// Total is the running total of one user: the aggregator's per-key state,
// and what it flushes to the writer.
type Total struct {
	User           string
	Events, Amount int
	Shard          string // the aggregator worker(s) that held the user
}

// rawEvents returns the input: lines like "user=bob amount=3"; every 47th
// is malformed.
func rawEvents() []string {
	lines := make([]string, events)
	for i := range lines {
		lines[i] = fmt.Sprintf("user=%s amount=%d", users[i%len(users)], i%9+1)
		if i%47 == 46 {
			lines[i] = fmt.Sprintf("user=%s amount=??", users[i%len(users)])
		}
	}
	return lines
}

func decode(_ context.Context, line string) (Event, error) {
	var e Event
	if _, err := fmt.Sscanf(line, "user=%s amount=%d", &e.User, &e.Amount); err != nil {
		return Event{}, fmt.Errorf("malformed event: %w", err)
	}
	return e, nil
}

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "streaming-aggregation:", err)
		os.Exit(1)
	}
}

func run(w io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	raw := rawEvents()

	p := pipeline.New()
	src := pipeline.FromFunc(p, "events", func(ctx context.Context, emit func(string) error) error {
		for i, line := range raw {
			if i > 0 && i%burst == 0 { // a quiet spell between bursts: the aggregator flushes
				select {
				case <-time.After(30 * time.Millisecond):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			if err := emit(line); err != nil {
				return err
			}
		}
		return nil
	})
	decoded := pipeline.Map(src, "decode", decode, pipeline.WithWorkers(4), pipeline.WithRetry(1, strategy.Backoff{}))
	partials := pipeline.Keyed(decoded, "aggregate", pipeline.KeyedSpec[Event, string, Total, Total]{
		Key: func(e Event) string { return e.User },
		Update: func(ctx context.Context, user string, t *Total, e Event, _ func(Total)) error {
			t.User, t.Events, t.Amount = user, t.Events+1, t.Amount+e.Amount
			if ac, ok := ctx.(actor.Context); ok { // a stage function's ctx is its worker's
				t.Shard = path.Base(ac.Path())
			}
			return nil
		},
		Flush: func(_ string, t *Total, emit func(Total)) bool {
			emit(*t)
			return false // drop the state: the next event starts a new partial total
		},
		FlushEvery: 10 * time.Millisecond,
	}, pipeline.WithWorkers(3))

	// The store; the writer is its only user (a sink has one worker).
	// Every 4th new write fails once, and its retry succeeds. The retry
	// comes after its backoff, so other writes may come first: the store
	// knows a retry by its value.
	store := map[string]Total{}
	writes, failed := 0, map[Total]int{}
	pipeline.ToFunc(partials, "write", func(_ context.Context, t Total) error {
		if failed[t] > 0 {
			failed[t]--
		} else if writes++; writes%4 == 0 {
			failed[t]++
			return errors.New("store unavailable")
		}
		s := store[t.User]
		s.Events, s.Amount = s.Events+t.Events, s.Amount+t.Amount
		if !strings.Contains(s.Shard, t.Shard) {
			s.Shard += t.Shard // "w1", or "w1w2" if a user ever moved (it does not)
		}
		store[t.User] = s
		return nil
	}, pipeline.WithRetry(3, strategy.Backoff{Min: time.Millisecond, Max: 10 * time.Millisecond}))

	if err := p.Run(ctx); err != nil {
		return err
	}

	dec, _ := p.StageStats("decode")
	wr, _ := p.StageStats("write")
	fmt.Fprintf(w, "decode: %d in, %d out, %d dead-lettered\nwrite: %d partial totals stored, %d failed attempts retried\n",
		dec.In, dec.Out, dec.DeadLettered, wr.Out, wr.Retries)
	if dead := p.DeadLetters().List(nil); len(dead) > 0 {
		d := dead[0]
		fmt.Fprintf(w, "%d dead letters; the first: %s %q, %s after %d attempt: %v\n",
			len(dead), d.Stage, d.Item, d.Reason, d.Attempts, d.Err)
	}
	for _, u := range slices.Sorted(maps.Keys(store)) {
		fmt.Fprintf(w, "%-5s %3d events, total %4d, on %s\n", u, store[u].Events, store[u].Amount, store[u].Shard)
	}
	return nil
}
