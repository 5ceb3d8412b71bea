package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/chaos"
	"github.com/troupe-go/troupe/pipeline"
	"github.com/troupe-go/troupe/remote"
	"github.com/troupe-go/troupe/strategy"
)

// resultBatchSize is the most outputs the child sends in one request.
const resultBatchSize = 256

func jsonString(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// nodeMain is the child node process of a -nodes 2 run (see twonode.go):
// it runs the aggregation stage, reading the feed of the node in
// nodePeerEnv and sending its outputs back there, and exits when its
// pipeline ended, when its stdin closes (the runner is gone) or after
// the run's timeout. It prints READY once it serves, KILL SITE for each
// kill of its monkey, RESTART for each worker restart, DEAD for each
// dead letter, STATS LOST RESENT and DONE at the end. It returns the
// process's exit status.
func nodeMain(stdout io.Writer) int {
	var out sync.Mutex // lines are printed from several goroutines
	say := func(format string, args ...any) {
		out.Lock()
		fmt.Fprintf(stdout, format+"\n", args...)
		out.Unlock()
	}
	peer := strings.Fields(os.Getenv(nodePeerEnv))
	var nc nodeConfig
	if err := json.Unmarshal([]byte(os.Getenv(nodeConfigEnv)), &nc); err != nil || len(peer) != 2 || nc.Workers < 1 || nc.Timeout <= 0 {
		say("ERROR bad child node environment %q %q: %v", os.Getenv(nodePeerEnv), os.Getenv(nodeConfigEnv), err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), nc.Timeout)
	defer cancel()
	// Owner: nodeMain; it ends when stdin closes (the runner closed it or
	// is gone), or with the process.
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()

	var rules []chaos.Rule
	if nc.KillEvery > 0 {
		k := float64(nc.KillEvery)
		rules = append(rules,
			chaos.Rule{Kind: chaos.Kill, Pattern: "aggregate", Rate: 1 / k},
			// Once per batch: as often per batch as aggregate per item
			// would make nearly every batch fail.
			chaos.Rule{Kind: chaos.Kill, Pattern: "send", Rate: min(1, 16/k)},
			chaos.Rule{Kind: chaos.Kill, Pattern: "sent", Rate: min(1, 16/k)},
		)
	}
	m, err := chaos.New(nc.Seed, rules...)
	if err != nil {
		say("ERROR %v", err)
		return 2
	}
	m.OnFault(func(f chaos.Fault) { say("KILL %s", f.Site) })

	sys := actor.NewSystem()
	n, err := remote.Start(sys, "127.0.0.1:0", remote.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), remote.WithPeers(peer[1]))
	if err != nil {
		say("ERROR %v", err)
		return 2
	}
	defer func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer ccancel()
		_ = n.Close(cctx)
		_ = sys.Shutdown(cctx)
	}()
	feed, err := remote.OpenFeed[wireEvent](n, peer[0], feedName)
	if err != nil {
		say("ERROR %v", err)
		return 2
	}
	defer feed.Close()
	results, err := remote.NewService[resultBatch](n, resultsName, remote.ServiceNodes(func() []string { return peer[:1] }))
	if err != nil {
		say("ERROR %v", err)
		return 2
	}
	defer results.Close()

	p := pipeline.New(
		pipeline.WithName("chaos-aggregate"),
		pipeline.WithCheckpointEvery(nc.Checkpoint),
		pipeline.WithDeadLetterStore(printDead{say}),
		pipeline.WithEvents(func(e actor.Event) {
			if e.Kind == actor.EventRestarted {
				say("RESTART")
			}
		}),
	)
	stage := []pipeline.StageOption{
		pipeline.WithWorkers(nc.Workers),
		pipeline.WithSupervision(strategy.OneForOne, 100000, time.Second, strategy.Backoff{}),
		pipeline.WithRetry(attempts, strategy.Backoff{}),
	}
	agg := pipeline.Keyed(feed.Source(p, "feed"), "aggregate", pipeline.KeyedSpec[wireEvent, uint32, userAgg, outWire]{
		Key: func(e wireEvent) uint32 { return e.User },
		Update: func(ctx context.Context, user uint32, s *userAgg, e wireEvent, emit func(outWire)) error {
			s.Count++
			s.Sum += e.Amount
			s.Max = max(s.Max, e.Amount)
			emit(outWire{ID: e.ID, User: user, Amount: e.Amount, Seen: s.Count})
			// After the state changed: a kill here must be rolled back.
			return m.InjectItem(ctx, "aggregate", e.ID)
		},
		Flush: func(user uint32, s *userAgg, emit func(outWire)) bool {
			agg := *s
			emit(outWire{User: user, Total: &agg})
			return false
		},
	}, stage...)
	batches := pipeline.Chunk(agg, "batch", resultBatchSize, 2*time.Millisecond)
	pipeline.ToFunc(batches, "send", func(ctx context.Context, outs []outWire) error {
		id := batchID(outs)
		if err := m.InjectItem(ctx, "send", id); err != nil {
			return err
		}
		if _, err := remote.Ask(ctx, results, func(r actor.Reply[resultAck]) resultBatch {
			return resultBatch{Outs: outs, Reply: r}
		}); err != nil {
			return err
		}
		// After the reply: the retry sends the batch again, and the
		// runner's node drops what it already has.
		return m.InjectItem(ctx, "sent", id)
	}, stage...)

	say("READY %s", n.Addr())
	if err := p.Run(ctx); err != nil {
		say("ERROR pipeline: %v", err)
		return 1
	}
	say("STATS %d %d", n.LostInTransit(), feed.Resent()+results.Resent())
	say("DONE")
	return 0
}

// batchID names a batch for the monkey: its first item's id, or for a
// batch of totals one past every item id.
func batchID(outs []outWire) uint64 {
	if len(outs) == 0 {
		return 0
	}
	if o := outs[0]; o.Total == nil {
		return o.ID
	}
	return 1<<63 | uint64(outs[0].User)
}

// printDead is the child's dead-letter store: it prints DEAD per entry
// (none is expected: poison items are dead-lettered on the runner's node,
// before the feed).
type printDead struct{ say func(string, ...any) }

func (d printDead) Add(dl pipeline.DeadLetter)                              { d.say("DEAD %s %v", dl.Stage, dl.Reason) }
func (printDead) List(func(pipeline.DeadLetter) bool) []pipeline.DeadLetter { return nil }
func (printDead) Take(func(pipeline.DeadLetter) bool) []pipeline.DeadLetter { return nil }
