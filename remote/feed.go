package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/pipeline"
)

// DefaultFeedCapacity is the number of items a Feed holds by default:
// appended and not yet covered by a checkpoint of its consumer.
const DefaultFeedCapacity = 1 << 16

// feedReadMax is the most items one read of a FeedReader asks for.
const feedReadMax = 1024

// ErrFeedPosition is the error of a feed request the Feed refuses because
// of its position: a read before the consumer's last checkpoint (those
// items are gone) or past the end, or a checkpoint older than the one
// saved, or past the end. It means two consumers read one feed, or a
// consumer that did not start from the feed's checkpoint.
var ErrFeedPosition = errors.New("remote: feed position out of range")

// The wire messages of a Feed, registered in init.
type (
	feedReq struct {
		Op    uint8                `json:"op"`
		From  uint64               `json:"from,omitempty"`  // read
		Max   int                  `json:"max,omitempty"`   // read
		Pos   uint64               `json:"pos,omitempty"`   // save
		State map[string][]byte    `json:"state,omitempty"` // save
		Reply actor.Reply[feedAns] `json:"-"`
	}
	feedAns struct {
		Items []json.RawMessage `json:"items,omitempty"` // read
		EOF   bool              `json:"eof,omitempty"`   // read: the feed ended at From
		Has   bool              `json:"has,omitempty"`   // load: a checkpoint was saved
		Pos   uint64            `json:"pos,omitempty"`   // load
		State map[string][]byte `json:"state,omitempty"` // load
	}
)

const (
	feedRead uint8 = iota + 1
	feedLoad
	feedSave
)

func init() {
	if err := Register[feedAns]("troupe.remote.FeedAnswer"); err != nil {
		panic(err)
	}
	if err := RegisterAsk("troupe.remote.FeedRequest",
		func(r feedReq) actor.Reply[feedAns] { return r.Reply },
		func(r *feedReq, rep actor.Reply[feedAns]) { r.Reply = rep }); err != nil {
		panic(err)
	}
}

// A Feed is a stream of items that a pipeline on another node consumes
// (its source is [FeedReader.Source]), with that pipeline's checkpoints
// kept here, on the feeding node: so the consumer's process can be
// SIGKILLed and a new one, on any node, resume from its last checkpoint
// with the keyed states saved in it, and its totals come out exact.
//
// The feed keeps every item appended since the consumer's last saved
// checkpoint (at most its capacity: Append waits for room) and sends the
// items after that checkpoint again to a consumer that starts from it
// (counted in Resent). Item i (from 0) has position i, and a checkpoint's
// position is the number of items it covers; a saved checkpoint drops the
// items before its position. Items cross as JSON, so T must round-trip
// through encoding/json.
//
// The items and the checkpoint live in this process's memory: the feed
// survives the loss of its consumers, not of its own process. It serves
// one consumer at a time; a consumer that reads or saves positions the
// feed no longer has is refused with an error matching ErrFeedPosition.
// A Feed is safe for concurrent use.
type Feed[T any] struct {
	name     string
	capacity int
	onSave   func(pipeline.Checkpoint)
	ref      actor.Ref[feedReq]

	mu       sync.Mutex
	base     uint64            // position of items[0]
	items    []json.RawMessage // appended, not yet covered by a checkpoint
	finished bool              // Finish was called
	closed   bool
	room     chan struct{} // closed (and replaced) when room is made or the feed closes
	parked   []feedReq     // reads at the end, answered by Append or Finish
	saved    pipeline.Checkpoint
	has      bool
	hi       uint64 // the highest position read so far
	done     chan struct{}
	doneOnce sync.Once

	resent atomic.Uint64
}

// A FeedOption configures a Feed.
type FeedOption interface{ applyFeed(*feedConfig) }

type feedConfig struct {
	capacity int
	onSave   func(pipeline.Checkpoint)
}

type feedFunc func(*feedConfig)

func (f feedFunc) applyFeed(c *feedConfig) { f(c) }

// FeedCapacity sets how many items the Feed holds, appended and not yet
// covered by a checkpoint (default DefaultFeedCapacity); values below 1
// are ignored. Keep it above what the consumer reads in one checkpoint
// interval, or Append waits for each checkpoint.
func FeedCapacity(n int) FeedOption {
	return feedFunc(func(c *feedConfig) {
		if n >= 1 {
			c.capacity = n
		}
	})
}

// FeedOnSave makes the Feed call f with each checkpoint its consumer
// saves, once it is saved (and the items before it dropped), from the
// Feed's actor: f must not block for long, nor change the checkpoint's
// State. A nil f is skipped.
func FeedOnSave(f func(pipeline.Checkpoint)) FeedOption {
	return feedFunc(func(c *feedConfig) {
		if f != nil {
			c.onSave = f
		}
	})
}

// NewFeed returns a Feed exposed on n under name, for a FeedReader on
// another node. It returns an error matching actor.ErrNilRef for a nil n,
// actor.ErrInvalidName for a name Expose refuses, ErrExposed for a name
// in use.
func NewFeed[T any](n *Node, name string, opts ...FeedOption) (*Feed[T], error) {
	if n == nil {
		return nil, fmt.Errorf("remote: nil node: %w", actor.ErrNilRef)
	}
	if name == "" || strings.ContainsAny(name, "/$") {
		return nil, fmt.Errorf("remote: feed: %w: %q", actor.ErrInvalidName, name)
	}
	cfg := feedConfig{capacity: DefaultFeedCapacity}
	for _, o := range opts {
		if o != nil {
			o.applyFeed(&cfg)
		}
	}
	f := &Feed[T]{name: name, capacity: cfg.capacity, onSave: cfg.onSave, room: make(chan struct{}), done: make(chan struct{})}
	ref, err := actor.Spawn(n.System(), "remote-feed-"+name, func() actor.Actor[feedReq] {
		return actor.Func[feedReq](func(c actor.Context, r feedReq) error {
			f.serve(c, r)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("remote: feed %q: %w", name, err)
	}
	if err := Expose(n, name, ref); err != nil {
		ref.PID().StopNow()
		return nil, fmt.Errorf("remote: feed %q: %w", name, err)
	}
	f.ref = ref
	return f, nil
}

// Append adds v at the end of the feed, waiting while the feed holds its
// capacity, until ctx ends (an error matching ctx.Err()). It returns an
// error matching ErrClosed after Close and after Finish; a v that does
// not encode as JSON is refused with its error. Once Append returned nil,
// v is in the feed: the consumer reads it, or reads it again after it
// restarts, until a checkpoint of its covers it.
func (f *Feed[T]) Append(ctx context.Context, v T) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("remote: feed %s: %w", f.name, err)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	for {
		f.mu.Lock()
		if f.closed || f.finished {
			f.mu.Unlock()
			return fmt.Errorf("remote: feed %s: %w", f.name, ErrClosed)
		}
		if len(f.items) < f.capacity {
			f.items = append(f.items, data)
			parked := f.takeParked()
			f.mu.Unlock()
			f.answer(parked)
			return nil
		}
		room := f.room
		f.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return fmt.Errorf("remote: feed %s: %w", f.name, ctx.Err())
		}
	}
}

// Finish ends the feed: the consumer's source ends after the last item
// appended. Done is closed once the consumer's pipeline ended cleanly.
// Finish is idempotent.
func (f *Feed[T]) Finish() {
	f.mu.Lock()
	f.finished = true
	parked := f.takeParked()
	f.checkDoneLocked()
	f.mu.Unlock()
	f.answer(parked)
}

// Done is closed once the feed is finished and its consumer saved a
// checkpoint covering every item with no keyed state left: the one its
// pipeline saves when it ended cleanly, once the outputs of its final
// flush are out of its sinks.
func (f *Feed[T]) Done() <-chan struct{} { return f.done }

// Resent returns how many items the feed sent again: items at positions
// read before, read again by a consumer that restarted from its last
// checkpoint.
func (f *Feed[T]) Resent() uint64 { return f.resent.Load() }

// Checkpoint returns the last checkpoint the consumer saved, ok false if
// none. Its State must not be changed.
func (f *Feed[T]) Checkpoint() (c pipeline.Checkpoint, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.saved, f.has
}

// Close ends the feed for good: the name is no longer exposed, waiting
// Appends return an error matching ErrClosed, and its items are dropped.
// Close is idempotent.
func (f *Feed[T]) Close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	f.items = nil
	close(f.room)
	parked := f.parked
	f.parked = nil
	f.mu.Unlock()
	for _, r := range parked {
		_ = r.Reply.Fail(context.Background(), fmt.Errorf("remote: feed %s: %w", f.name, ErrClosed))
	}
	f.ref.PID().StopNow()
}

// takeParked returns the parked reads and forgets them; f.mu is held.
func (f *Feed[T]) takeParked() []feedReq {
	p := f.parked
	f.parked = nil
	return p
}

// answer serves the reads that were parked at the end of the feed.
func (f *Feed[T]) answer(parked []feedReq) {
	for _, r := range parked {
		f.serve(context.Background(), r)
	}
}

// checkDoneLocked closes done when the consumer checkpointed the end of a
// finished feed with no state: the checkpoint a pipeline saves when it
// ended cleanly, after its final flush (one taken at the end position
// while keyed stages still hold state has that state); f.mu is held.
func (f *Feed[T]) checkDoneLocked() {
	if f.finished && f.has && f.saved.Pos == f.base+uint64(len(f.items)) && len(f.saved.State) == 0 {
		f.doneOnce.Do(func() { close(f.done) })
	}
}

// serve answers one request of a FeedReader.
func (f *Feed[T]) serve(ctx context.Context, r feedReq) {
	f.mu.Lock()
	end := f.base + uint64(len(f.items))
	if f.closed {
		f.mu.Unlock()
		_ = r.Reply.Fail(ctx, fmt.Errorf("remote: feed %s: %w", f.name, ErrClosed))
		return
	}
	switch r.Op {
	case feedLoad:
		a := feedAns{Has: f.has, Pos: f.saved.Pos, State: f.saved.State}
		f.mu.Unlock()
		_ = r.Reply.Send(ctx, a)
	case feedSave:
		if f.has && r.Pos < f.saved.Pos || r.Pos > end {
			f.mu.Unlock()
			_ = r.Reply.Fail(ctx, fmt.Errorf("remote: feed %s: checkpoint at %d (saved %d, end %d): %w", f.name, r.Pos, f.saved.Pos, end, ErrFeedPosition))
			return
		}
		f.saved, f.has = pipeline.Checkpoint{Pos: r.Pos, State: r.State}, true
		if drop := int(r.Pos - f.base); drop > 0 {
			// Copy the rest when the dropped prefix is large, so the
			// array does not keep every item ever appended.
			if drop >= len(f.items)/2 {
				f.items = append([]json.RawMessage(nil), f.items[drop:]...)
			} else {
				clear(f.items[:drop])
				f.items = f.items[drop:]
			}
			f.base = r.Pos
			close(f.room)
			f.room = make(chan struct{})
		}
		saved := f.saved
		f.checkDoneLocked()
		f.mu.Unlock()
		if f.onSave != nil {
			f.onSave(saved)
		}
		_ = r.Reply.Send(ctx, feedAns{})
	case feedRead:
		switch {
		case r.From < f.base || r.From > end:
			f.mu.Unlock()
			_ = r.Reply.Fail(ctx, fmt.Errorf("remote: feed %s: read at %d (held %d to %d): %w", f.name, r.From, f.base, end, ErrFeedPosition))
		case r.From == end && f.finished:
			f.mu.Unlock()
			_ = r.Reply.Send(ctx, feedAns{EOF: true})
		case r.From == end:
			f.parked = append(f.parked, r) // answered by the next Append or Finish
			f.mu.Unlock()
		default:
			k := min(uint64(max(r.Max, 1)), end-r.From)
			i := r.From - f.base
			items := append([]json.RawMessage(nil), f.items[i:i+k]...)
			if f.hi > r.From {
				f.resent.Add(min(f.hi, r.From+k) - r.From)
			}
			f.hi = max(f.hi, r.From+k)
			f.mu.Unlock()
			_ = r.Reply.Send(ctx, feedAns{Items: items})
		}
	default:
		f.mu.Unlock()
		_ = r.Reply.Fail(ctx, fmt.Errorf("remote: feed %s: unknown request %d", f.name, r.Op))
	}
}

// A FeedReader consumes a Feed of another node: Source is a pipeline
// source of its items whose checkpoints (with the pipeline's keyed
// states) are saved on the feeding node. A pipeline resumed from them,
// in this process or another, starts with the saved states at the saved
// position, so its keyed stages count every item exactly once even when
// a process of theirs was SIGKILLed (see pipeline.Keyed and
// pipeline.StateCheckpointer). The outputs emitted after the last
// checkpoint are emitted again by the resumed run: what its sinks write
// must be idempotent (or deduplicated by the receiver).
//
// Requests go through a Service at least once; a FeedReader is safe for
// concurrent use.
type FeedReader[T any] struct {
	svc *Service[feedReq]
}

// OpenFeed returns a FeedReader of the feed exposed under name on the node
// at addr (its Node.Addr). It dials nothing yet. It returns an error
// matching actor.ErrNilRef for a nil n and actor.ErrInvalidName for an
// invalid name.
func OpenFeed[T any](n *Node, addr, name string) (*FeedReader[T], error) {
	svc, err := NewService[feedReq](n, name, ServiceNodes(func() []string { return []string{addr} }))
	if err != nil {
		return nil, err
	}
	return &FeedReader[T]{svc: svc}, nil
}

// Source adds a resumable source (pipeline.FromResumable) of the feed's
// items to p: it starts at the feed's checkpoint (the start, if none),
// saves its checkpoints there, and ends when the feed was finished and
// every item read. Give it as the pipeline's only resumable source for
// its keyed stages' states to be saved with the checkpoints.
func (r *FeedReader[T]) Source(p *pipeline.Pipeline, name string) *pipeline.Stream[T] {
	return pipeline.FromResumable(p, name, r.Checkpointer(), func(ctx context.Context, from uint64, emit func(T, uint64) error) error {
		pos := from
		for {
			a, err := Ask(ctx, r.svc, func(rep actor.Reply[feedAns]) feedReq {
				return feedReq{Op: feedRead, From: pos, Max: feedReadMax, Reply: rep}
			})
			if err != nil {
				return err
			}
			if a.EOF {
				return nil
			}
			for _, data := range a.Items {
				var v T
				if err := json.Unmarshal(data, &v); err != nil {
					return fmt.Errorf("remote: feed %s: item %d: %w", r.svc.name, pos, err)
				}
				pos++
				if err := emit(v, pos); err != nil {
					return err
				}
			}
		}
	})
}

// Checkpointer returns the pipeline.StateCheckpointer that keeps the
// checkpoints on the feeding node (Source uses it). A checkpoint older
// than the one saved there is refused with an error matching
// ErrFeedPosition.
func (r *FeedReader[T]) Checkpointer() pipeline.StateCheckpointer { return feedCheckpointer{r.svc} }

// Resent returns how many requests to the feed were sent again because
// the connection to the feeding node was lost under them (Service.Resent).
func (r *FeedReader[T]) Resent() uint64 { return r.svc.Resent() }

// Close closes the reader's Service; the feed is not changed.
func (r *FeedReader[T]) Close() { r.svc.Close() }

// feedCheckpointer is a pipeline.StateCheckpointer on a Feed.
type feedCheckpointer struct{ svc *Service[feedReq] }

func (c feedCheckpointer) Load(ctx context.Context) (uint64, bool, error) {
	cp, ok, err := c.LoadCheckpoint(ctx)
	return cp.Pos, ok, err
}

func (c feedCheckpointer) Save(ctx context.Context, pos uint64) error {
	return c.SaveCheckpoint(ctx, pipeline.Checkpoint{Pos: pos})
}

func (c feedCheckpointer) LoadCheckpoint(ctx context.Context) (pipeline.Checkpoint, bool, error) {
	a, err := Ask(ctx, c.svc, func(rep actor.Reply[feedAns]) feedReq { return feedReq{Op: feedLoad, Reply: rep} })
	if err != nil || !a.Has {
		return pipeline.Checkpoint{}, false, err
	}
	return pipeline.Checkpoint{Pos: a.Pos, State: a.State}, true, nil
}

func (c feedCheckpointer) SaveCheckpoint(ctx context.Context, cp pipeline.Checkpoint) error {
	_, err := Ask(ctx, c.svc, func(rep actor.Reply[feedAns]) feedReq {
		return feedReq{Op: feedSave, Pos: cp.Pos, State: cp.State, Reply: rep}
	})
	return err
}
