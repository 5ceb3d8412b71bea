package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/remote"
)

// With -nodes 2 the aggregation runs on a second node, a child process
// of the runner (the same binary, started with nodeEnv set), on
// 127.0.0.1:
//
//	this node:   source → decode → ship: Append to a remote.Feed
//	child node:  FeedReader.Source → aggregate (keyed by user) → batch →
//	             send: Ask this node's "results" actor
//	this node:   results (FromChan) → write, dead letters to a store
//
// The child's pipeline saves its checkpoints, with the keyed per-user
// states, on this node (the Feed's store): an item counts once it is
// folded into a state, and the feed keeps every item after the last saved
// checkpoint. When the child is SIGKILLed (once, when a third of the
// outputs came back) a new child process loads that checkpoint, so its
// states are those of the items before the checkpoint's position, and the
// feed sends it the items after that position again (counted in resent):
// each item is folded exactly once. The outputs the killed child had sent
// for items after the checkpoint are sent again by the new one; the
// results actor drops those it already has (by item id, and by user for
// the end-of-stream totals), so the writer sees each once.
//
// The child runs a monkey of its own (sites aggregate, after Update
// changed the state; send, before a batch is sent; sent, after the reply)
// and prints a line per kill, which this node counts.

// Environment of a child node process; nodeEnv marks one.
const (
	nodeEnv       = "TROUPE_CHAOS_NODE" // "aggregate"
	nodePeerEnv   = "TROUPE_CHAOS_PEER" // this node's Addr and GossipAddr, space-separated
	nodeConfigEnv = "TROUPE_CHAOS_CONFIG"
)

// Names exposed on this node.
const (
	feedName    = "chaos-feed"
	resultsName = "chaos-results"
)

// remoteSites are the kill sites of the child node.
var remoteSites = []string{"aggregate", "send", "sent"}

// outWire is an output of the child's aggregator on the wire: an event
// with the user's count so far, or (Total set) a user's end-of-stream
// total.
type outWire struct {
	ID     uint64   `json:"id,omitempty"`
	User   uint32   `json:"user"`
	Amount int64    `json:"amount,omitempty"`
	Seen   int64    `json:"seen,omitempty"`
	Total  *userAgg `json:"total,omitempty"`
}

// resultBatch is a batch of outputs the child sends back; its reply
// acknowledges it.
type resultBatch struct {
	Outs  []outWire              `json:"outs"`
	Reply actor.Reply[resultAck] `json:"-"`
}

type resultAck struct {
	N int `json:"n"`
}

func init() {
	mustRegister(remote.Register[wireEvent]("chaos.WireEvent"))
	mustRegister(remote.Register[resultAck]("chaos.ResultAck"))
	mustRegister(remote.RegisterAsk("chaos.ResultBatch",
		func(b resultBatch) actor.Reply[resultAck] { return b.Reply },
		func(b *resultBatch, r actor.Reply[resultAck]) { b.Reply = r }))
}

func mustRegister(err error) {
	if err != nil {
		panic(err)
	}
}

// nodeConfig is what a child node is told (JSON in nodeConfigEnv).
type nodeConfig struct {
	Workers    int           `json:"workers"`
	KillEvery  int           `json:"kill_every"`
	Seed       uint64        `json:"seed"`
	Timeout    time.Duration `json:"timeout"`
	Checkpoint time.Duration `json:"checkpoint"`
}

// twoNodes is this node's side of a -nodes 2 run.
type twoNodes struct {
	cfg    config
	sys    *actor.System
	n      *remote.Node
	feed   *remote.Feed[wireEvent]
	fail   func(error) // aborts the run
	stderr io.Writer

	results chan output // to the write stage

	shipped, deadEarly atomic.Int64 // items appended to the feed; dead-lettered before it
	finish             sync.Once

	in       sync.Mutex // guards the results actor's state, below
	closed   bool       // results closed
	seenID   []uint64   // bitset of item ids received
	seenUser map[uint32]userAgg
	received int // distinct outputs received
	replayed int // outputs received again (dropped)
	badTotal int // a total received again with another value
	third    chan struct{}

	mu       sync.Mutex // guards what follows
	kids     []*child
	kills    map[string]int
	restarts int
	dead     int
	lost     uint64 // children's LostInTransit, as they reported at their end
	reqs     uint64 // children's re-sent requests, as they reported
	sigkills int
	problems []string

	wg sync.WaitGroup // the killer and closer goroutines
}

// startTwo starts this node's side: a remote Node on 127.0.0.1, the feed,
// the results actor, and the first child node.
func startTwo(ctx context.Context, cfg config, fail func(error), stderr io.Writer) (*twoNodes, error) {
	t := &twoNodes{
		cfg: cfg, fail: fail, stderr: &lockedWriter{w: stderr},
		results:  make(chan output, 1024),
		seenID:   make([]uint64, cfg.Items/64+1),
		seenUser: map[uint32]userAgg{},
		third:    make(chan struct{}),
		kills:    map[string]int{},
	}
	t.sys = actor.NewSystem()
	var err error
	t.n, err = remote.Start(t.sys, "127.0.0.1:0", remote.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		_ = t.sys.Shutdown(ctx)
		return nil, err
	}
	if t.feed, err = remote.NewFeed[wireEvent](t.n, feedName); err != nil {
		t.close(ctx)
		return nil, err
	}
	ref, err := actor.Spawn(t.sys, "results", func() actor.Actor[resultBatch] {
		return actor.Func[resultBatch](func(c actor.Context, b resultBatch) error {
			if err := t.take(c, b.Outs); err != nil {
				return b.Reply.Fail(c, err)
			}
			return b.Reply.Send(c, resultAck{N: len(b.Outs)})
		})
	})
	if err == nil {
		err = remote.Expose(t.n, resultsName, ref)
	}
	if err == nil {
		err = t.spawn(ctx, 1)
	}
	if err != nil {
		t.close(ctx)
		return nil, err
	}
	return t, nil
}

// run starts the goroutines of a run: the killer, which SIGKILLs the
// child once a third of the outputs came back and starts another, and the
// closer, which ends the results stream once the child checkpointed the
// end of the feed. They end with ctx at the latest.
func (t *twoNodes) run(ctx context.Context) {
	t.wg.Add(2)
	// Owner: run (through twoNodes.close, which waits for it).
	go func() {
		defer t.wg.Done()
		select {
		case <-t.third:
		case <-ctx.Done():
			return
		}
		t.mu.Lock()
		c := t.kids[len(t.kids)-1]
		t.sigkills++
		t.mu.Unlock()
		c.kill()
		if err := t.spawn(ctx, 2); err != nil && ctx.Err() == nil {
			t.fail(fmt.Errorf("starting the second child node: %w", err))
		}
	}()
	// Owner: run (through twoNodes.close, which waits for it).
	go func() {
		defer t.wg.Done()
		select {
		case <-t.feed.Done():
		case <-ctx.Done():
		}
		t.in.Lock()
		if !t.closed {
			t.closed = true
			close(t.results)
		}
		t.in.Unlock()
	}()
}

// ship appends an item to the feed (the ship stage's work).
func (t *twoNodes) ship(ctx context.Context, e event) error {
	if err := t.feed.Append(ctx, wireEvent{ID: e.id, User: e.user, Amount: e.amount}); err != nil {
		return err
	}
	t.shipped.Add(1)
	t.maybeFinish()
	return nil
}

// deadBefore notes an item dead-lettered before the feed (a poison item).
func (t *twoNodes) deadBefore() {
	t.deadEarly.Add(1)
	t.maybeFinish()
}

// maybeFinish ends the feed once every item was appended or dead-lettered.
func (t *twoNodes) maybeFinish() {
	if t.shipped.Load()+t.deadEarly.Load() == int64(t.cfg.Items) {
		t.finish.Do(t.feed.Finish)
	}
}

// take passes the outputs of a batch not received before to the write
// stage, waiting for room, until ctx ends.
func (t *twoNodes) take(ctx context.Context, outs []outWire) error {
	t.in.Lock()
	defer t.in.Unlock()
	for _, o := range outs {
		var out output
		if o.Total != nil {
			if prev, ok := t.seenUser[o.User]; ok {
				t.replayed++
				if prev != *o.Total {
					t.badTotal++
				}
				continue
			}
			t.seenUser[o.User] = *o.Total
			out.total = &userTotal{user: o.User, agg: *o.Total}
		} else {
			if o.ID == 0 || o.ID > uint64(t.cfg.Items) {
				return fmt.Errorf("output of unknown item %d", o.ID)
			}
			w, bit := o.ID/64, uint64(1)<<(o.ID%64)
			if t.seenID[w]&bit != 0 && !t.cfg.keepReplays {
				t.replayed++
				continue
			}
			t.seenID[w] |= bit
			out.ev, out.seen = event{id: o.ID, user: o.User, amount: o.Amount}, o.Seen
		}
		if t.closed {
			return fmt.Errorf("output of item %d after the end", o.ID)
		}
		select {
		case t.results <- out:
		case <-ctx.Done():
			return ctx.Err()
		}
		t.received++
		if t.received == max(t.cfg.Items/3, 1) {
			close(t.third)
		}
	}
	return nil
}

// close kills the children, waits for the goroutines and closes the
// node. It may be called once.
func (t *twoNodes) close(ctx context.Context) {
	t.wg.Wait()
	t.mu.Lock()
	kids := t.kids
	t.mu.Unlock()
	for _, c := range kids {
		c.stop(ctx)
	}
	if t.feed != nil {
		t.feed.Close()
	}
	_ = t.n.Close(ctx)
	_ = t.sys.Shutdown(ctx)
}

// child is a child node process.
type child struct {
	t      *twoNodes
	run    int
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	ready  chan string // its READY or ERROR line
	done   chan struct{}
	ended  chan struct{} // closed when it printed DONE
	killed atomic.Bool
}

// spawn starts child node number run and waits until it is ready.
func (t *twoNodes) spawn(ctx context.Context, run int) error {
	nc, err := jsonString(nodeConfig{
		Workers: t.cfg.Workers, KillEvery: t.cfg.KillEvery, Seed: t.cfg.Seed + uint64(run),
		Timeout: t.cfg.Timeout, Checkpoint: t.cfg.checkpoint,
	})
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		self = os.Args[0]
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), nodeEnv+"=aggregate", nodePeerEnv+"="+t.n.Addr()+" "+t.n.GossipAddr(), nodeConfigEnv+"="+nc)
	cmd.Stderr = t.stderr // a lockedWriter: children write to it at once
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	c := &child{t: t, run: run, cmd: cmd, ready: make(chan string, 1), done: make(chan struct{}), ended: make(chan struct{})}
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	t.mu.Lock()
	t.kids = append(t.kids, c)
	t.mu.Unlock()
	// Owner: the child; it ends when the child's stdout closes (it
	// exits or is killed), and twoNodes.close waits for it.
	go c.read(out)
	select {
	case l := <-c.ready:
		if !strings.HasPrefix(l, "READY") {
			return fmt.Errorf("child node %d: %s", run, l)
		}
		return nil
	case <-c.done:
		return fmt.Errorf("child node %d exited before it was ready", run)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// read reads the child's lines: READY or ERROR, a KILL site per kill,
// RESTART, DEAD, STATS lost resent at the end, and DONE.
func (c *child) read(out io.Reader) {
	t := c.t
	defer func() {
		_ = c.cmd.Wait() // its stderr is copied out, too
		close(c.done)
		select {
		case <-c.ended:
		default:
			if !c.killed.Load() {
				t.fail(fmt.Errorf("child node %d exited before it ended its pipeline", c.run))
			}
		}
	}()
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		t.mu.Lock()
		switch f[0] {
		case "READY", "ERROR":
			select {
			case c.ready <- sc.Text():
			default:
			}
			if f[0] == "ERROR" {
				t.problems = append(t.problems, fmt.Sprintf("child node %d: %s", c.run, sc.Text()))
			}
		case "KILL":
			if len(f) > 1 {
				t.kills[f[1]]++
			}
		case "RESTART":
			t.restarts++
		case "DEAD":
			t.dead++
		case "STATS":
			if len(f) == 3 {
				lost, _ := strconv.ParseUint(f[1], 10, 64)
				resent, _ := strconv.ParseUint(f[2], 10, 64)
				t.lost += lost
				t.reqs += resent
			}
		case "DONE":
			close(c.ended)
		}
		t.mu.Unlock()
	}
	_, _ = io.Copy(io.Discard, out)
}

// kill SIGKILLs the child and waits until it is gone.
func (c *child) kill() {
	c.killed.Store(true)
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

// stop lets a child that ended its pipeline exit (it waits for its stdin
// to close), and kills it if it does not within a few seconds.
func (c *child) stop(ctx context.Context) {
	_ = c.stdin.Close()
	select {
	case <-c.done:
		return
	case <-time.After(5 * time.Second):
	case <-ctx.Done():
	}
	c.kill()
}

// report adds the two-node counts to res.
func (t *twoNodes) report(res *result) {
	t.in.Lock()
	replayed, badTotal := t.replayed, t.badTotal
	reachedThird := t.received >= max(t.cfg.Items/3, 1)
	t.in.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	res.Nodes = 2
	res.LostInTransit = t.n.LostInTransit() + t.lost
	res.Resent = t.feed.Resent() + t.reqs
	res.Replayed = replayed
	res.RemoteSIGKILLs = t.sigkills
	res.RemoteKillsBySite = map[string]int{}
	for k, v := range t.kills {
		res.RemoteKills += v
		res.RemoteKillsBySite[k] = v
	}
	res.RemoteRestarts = t.restarts
	res.RemoteDeadLettered = t.dead
	res.problems = append(res.problems, t.problems...)
	if badTotal > 0 {
		res.problems = append(res.problems, fmt.Sprintf("%d user totals received again with another value", badTotal))
	}
	if t.dead > 0 {
		res.problems = append(res.problems, fmt.Sprintf("%d items dead-lettered on the child node", t.dead))
	}
	if t.sigkills != 1 && reachedThird { // (all poison: no output comes back)
		res.problems = append(res.problems, fmt.Sprintf("child node SIGKILLed %d times, want 1", t.sigkills))
	}
}

// lockedWriter serialises the writes of several children to one writer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
