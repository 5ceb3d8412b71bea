// Resumed-aggregation: per-user totals over a file of events, killed
// mid-run and resumed with exact totals.
//
// FromLines reads "user amount" lines; a Keyed stage sums them per user
// and emits the totals at the end of the stream. The FileCheckpointer
// keeps, in one file, the byte offset to resume from and the per-user
// totals as of that offset (a FileCheckpointer is a StateCheckpointer):
// the pipeline pauses its source between two lines, waits until every
// line before the pause is folded into a total, saves the offset and the
// totals together, and goes on. The first run crashes halfway (its
// context is cancelled at a checkpoint round, which is not saved, as if
// the process had been killed); the second run loads the
// totals, reads only the lines after the offset, and prints the same
// totals as an uninterrupted third run over a fresh checkpoint.
//
// What to copy: a FileCheckpointer (or your own StateCheckpointer, saving
// position and state in one transaction) with FromLines or FromResumable
// and a Keyed stage; the state of the keyed stage is then part of every
// checkpoint, and a Flush at the end of stream emits exact totals.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/troupe-go/troupe/pipeline"
)

const events = 30000

var users = []string{"alice", "bob", "carol", "dave", "erin"}

// Total is a user's running total: the keyed stage's per-key state (it is
// saved with gob, so its fields are exported).
type Total struct {
	User          string
	Events, Cents int
}

func main() {
	dir, err := os.MkdirTemp("", "resumed-aggregation")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	if err := run(os.Stdout, dir); err != nil {
		fmt.Fprintln(os.Stderr, "resumed-aggregation:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, dir string) error {
	in := filepath.Join(dir, "events.txt")
	var b strings.Builder
	for i := range events {
		fmt.Fprintf(&b, "%s %d\n", users[i*7%len(users)], i%100)
	}
	if err := os.WriteFile(in, []byte(b.String()), 0o600); err != nil {
		return err
	}
	cp := &crashable{FileCheckpointer: pipeline.NewFileCheckpointer(filepath.Join(dir, "events.ckpt")), crashAt: uint64(b.Len() / 2)}
	if _, err := aggregate(in, cp); !errors.Is(err, context.Canceled) {
		return fmt.Errorf("run 1 did not crash: %v", err)
	}
	c, _, err := cp.LoadCheckpoint(context.Background())
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "run 1 crashed; its checkpoint: byte %d of %d, with the totals of keyed stage %q\n", c.Pos, b.Len(), slices.Collect(maps.Keys(c.State))[0])
	cp.crashAt = 0
	resumed, err := aggregate(in, cp)
	if err != nil {
		return fmt.Errorf("run 2: %v", err)
	}
	fresh, err := aggregate(in, &crashable{FileCheckpointer: pipeline.NewFileCheckpointer(filepath.Join(dir, "fresh.ckpt"))})
	if err != nil {
		return fmt.Errorf("run 3: %v", err)
	}
	for _, u := range slices.Sorted(maps.Keys(fresh)) {
		same := "same"
		if resumed[u] != fresh[u] {
			same = "DIFFERENT"
		}
		fmt.Fprintf(w, "%-5s resumed: %4d events, %6d cents; uninterrupted: %4d events, %6d cents: %s\n",
			u, resumed[u].Events, resumed[u].Cents, fresh[u].Events, fresh[u].Cents, same)
	}
	return nil
}

// aggregate runs the pipeline once. A run whose checkpointer has a crash
// offset crashes at its second checkpoint past it (that one is not
// saved), so it had folded lines after the checkpoint it left.
func aggregate(in string, cp *crashable) (map[string]Total, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cp.cancel = cancel
	p := pipeline.New(pipeline.WithCheckpointEvery(time.Millisecond))
	lines := pipeline.FromLines(p, "events", in, cp)
	parsed := pipeline.Map(lines, "parse", func(ctx context.Context, l string) (Total, error) {
		user, amount, _ := strings.Cut(l, " ")
		cents, err := strconv.Atoi(amount)
		if cents == 0 {
			time.Sleep(time.Millisecond) // a slow lookup now and then
		}
		return Total{User: user, Events: 1, Cents: cents}, err
	}, pipeline.WithWorkers(2))
	totals := pipeline.Keyed(parsed, "sum", pipeline.KeyedSpec[Total, string, Total, Total]{
		Key: func(t Total) string { return t.User },
		Update: func(_ context.Context, user string, s *Total, t Total, _ func(Total)) error {
			s.User, s.Events, s.Cents = user, s.Events+t.Events, s.Cents+t.Cents
			return nil
		},
		Flush: func(_ string, s *Total, emit func(Total)) bool { emit(*s); return false },
	}, pipeline.WithWorkers(3))
	out := pipeline.Collect(totals, "out")
	if err := p.Run(ctx); err != nil {
		return nil, err
	}
	m := map[string]Total{}
	for _, t := range out.Items() {
		m[t.User] = t
	}
	return m, nil
}

// crashable is a FileCheckpointer that crashes the run (cancels it, and
// saves nothing more, as a killed process would not) at its second
// checkpoint past crashAt, if crashAt > 0.
type crashable struct {
	*pipeline.FileCheckpointer
	crashAt uint64
	cancel  context.CancelFunc
	past    int
	crashed bool
}

func (c *crashable) SaveCheckpoint(ctx context.Context, cp pipeline.Checkpoint) error {
	if c.crashed {
		return nil
	}
	if c.crashAt > 0 && cp.Pos >= c.crashAt {
		if c.past++; c.past == 2 {
			c.crashed = true
			c.cancel()
			return nil
		}
	}
	return c.FileCheckpointer.SaveCheckpoint(ctx, cp)
}
