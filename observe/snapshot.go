package observe

import (
	"context"
	"strconv"
	"time"
)

// SchemaVersion is the version of the Snapshot JSON schema. Field names
// only get added within one version.
const SchemaVersion = 1

// A Source is what can be observed: an *actor.System.
type Source interface {
	// Snapshot returns the tree as it is now. It never blocks on a stuck
	// actor: a supervisor that does not answer before ctx ends is marked
	// unresponsive and shown with what the runtime knows of it.
	Snapshot(ctx context.Context, opts SnapshotOptions) Snapshot
	// Subscribe returns a subscription to the event stream with a buffer
	// of the given size. The runtime never waits for a subscriber: events
	// that do not fit are dropped and counted.
	Subscribe(buffer int) Subscription
}

// SnapshotOptions bound a Snapshot.
type SnapshotOptions struct {
	// Limit caps the number of nodes (actors, supervisors, workers);
	// 0 means no cap. Nodes left out are counted in Snapshot.Truncated.
	Limit int
}

// A Subscription is one subscriber's view of the event stream.
type Subscription interface {
	// Events returns the channel the events arrive on; it is closed by
	// Close and when the System shuts down.
	Events() <-chan Event
	// Dropped counts the events lost because the buffer was full.
	Dropped() uint64
	// Close ends the subscription. It is idempotent.
	Close()
}

// A Snapshot is the whole tree of a System at one time.
type Snapshot struct {
	Schema    int        `json:"schema"`
	System    string     `json:"system"`
	Time      time.Time  `json:"time"`
	Nodes     []Node     `json:"nodes"`
	Pipelines []Pipeline `json:"pipelines,omitempty"`
	// Kinds aggregates the actors by kind, for metrics (the only
	// per-actor detail a metric may carry is its kind).
	Kinds []KindStats `json:"kinds,omitempty"`
	// DeadLetters counts dead letters by reason since the System began.
	DeadLetters map[string]uint64 `json:"dead_letters,omitempty"`
	// EventsDropped counts events lost by slow subscribers.
	EventsDropped uint64 `json:"events_dropped,omitempty"`
	// Truncated counts the nodes left out by SnapshotOptions.Limit.
	Truncated int `json:"truncated,omitempty"`
}

// NodeType says what a node is.
type NodeType string

// Node types.
const (
	TypeActor      NodeType = "actor"      // an actor without a supervisor
	TypeWorker     NodeType = "worker"     // a supervised worker
	TypeSupervisor NodeType = "supervisor" // a supervisor
	TypeStage      NodeType = "stage"      // a pipeline stage worker
)

// Status is the state of a node.
type Status string

// Statuses.
const (
	StatusRunning    Status = "running"
	StatusStarting   Status = "starting"
	StatusRestarting Status = "restarting" // no incarnation, restart pending
	StatusBackoff    Status = "backoff"    // restart delayed, see NextStart
	StatusDown       Status = "down"       // kept down by its supervisor
	StatusStopping   Status = "stopping"
	StatusStopped    Status = "stopped"
)

// A Node is one actor in the tree, with its children in spawn (start)
// order.
type Node struct {
	Name string   `json:"name"`
	Path string   `json:"path"`
	Kind string   `json:"kind"`
	Type NodeType `json:"type"`
	// Restart is the restart type of a supervised child: permanent,
	// transient or temporary.
	Restart string `json:"restart,omitempty"`
	Status  Status `json:"status"`
	// NextStart is when a child in backoff starts again, and
	// BackoffAttempt how many restarts in a row it has been delayed.
	NextStart      *time.Time `json:"next_start,omitempty"`
	BackoffAttempt int        `json:"backoff_attempt,omitempty"`
	// Incarnation counts the incarnations started so far; Started is when
	// the current one started.
	Incarnation  uint64      `json:"incarnation"`
	Started      *time.Time  `json:"started,omitempty"`
	Restarts     uint64      `json:"restarts"`
	Mailbox      Mailbox     `json:"mailbox"`
	Processed    uint64      `json:"processed"`
	Failures     uint64      `json:"failures"`
	DeadLettered uint64      `json:"dead_lettered"`
	LastFailure  *Failure    `json:"last_failure,omitempty"`
	Supervisor   *Supervisor `json:"supervisor,omitempty"`
	Children     []Node      `json:"children,omitempty"`
}

// Mailbox is a node's mailbox.
type Mailbox struct {
	Depth    int    `json:"depth"`
	Capacity int    `json:"capacity"` // 0: unbounded
	Dropped  uint64 `json:"dropped"`
	Policy   string `json:"policy"` // block, reject, drop_newest, drop_oldest
}

// A Failure is the last failure of a node.
type Failure struct {
	ID        FailureID `json:"id"`
	Time      time.Time `json:"time"`
	ErrorType string    `json:"error_type"`
	// Message and Stack may carry user data: a view shows them only to
	// readers allowed to see sensitive detail.
	Message string `json:"message,omitempty"`
	Stack   string `json:"stack,omitempty"`
}

// Supervisor is what a supervisor node adds.
type Supervisor struct {
	Strategy     string  `json:"strategy"`
	MaxRestarts  int     `json:"max_restarts"`
	PeriodSecond float64 `json:"period_seconds"`
	// RestartsInWindow counts the restarts inside the current period,
	// against MaxRestarts.
	RestartsInWindow int    `json:"restarts_in_window"`
	Restarts         uint64 `json:"restarts"`
	GaveUp           uint64 `json:"gave_up"`
	AutoShutdown     string `json:"auto_shutdown"`
	Counts           Counts `json:"counts"`
	// Unresponsive is set when the supervisor did not answer in time; its
	// children are then shown as the runtime sees them.
	Unresponsive bool `json:"unresponsive,omitempty"`
}

// Counts is OTP's count_children.
type Counts struct {
	Specs       int `json:"specs"`
	Active      int `json:"active"`
	Supervisors int `json:"supervisors"`
	Workers     int `json:"workers"`
}

// A Pipeline is a running pipeline and its stages, in wiring order.
type Pipeline struct {
	Name string `json:"name"`
	// State is running, draining (stopping gracefully: its inputs stop
	// and what they read flows out), done, or failed (aborting or
	// aborted).
	State  string  `json:"state"`
	Stages []Stage `json:"stages"`
	// Checkpoints are the resumable sources' positions.
	Checkpoints []Checkpoint `json:"checkpoints,omitempty"`
}

// A Checkpoint is the position of one resumable source.
type Checkpoint struct {
	Source string `json:"source"`
	// Watermark is where the source would restart now: the position of
	// its oldest item not yet delivered, filtered or dead-lettered.
	Watermark uint64 `json:"watermark"`
	// Committed is the last position saved, nil before the first save.
	Committed *uint64 `json:"committed,omitempty"`
}

// A Stage is one stage of a pipeline.
type Stage struct {
	Name string `json:"name"`
	// Kind is source, map, filter, flatmap, batch, keyed, sink, merge,
	// priority or dynamic.
	Kind string `json:"kind,omitempty"`
	// Inputs names the stages (or sources) this one reads from.
	Inputs   []string `json:"inputs,omitempty"`
	Received uint64   `json:"received"`
	Emitted  uint64   `json:"emitted"`
	// Processed counts the input items the stage finished; Filtered
	// those a filter dropped.
	Processed uint64 `json:"processed,omitempty"`
	Filtered  uint64 `json:"filtered,omitempty"`
	// Failures counts failed attempts (errors and panics), Retried the
	// attempts after an item's first.
	Failures     uint64 `json:"failures"`
	Retried      uint64 `json:"retried,omitempty"`
	DeadLettered uint64 `json:"dead_lettered"`
	InFlight     int64  `json:"in_flight"`
	// Queued counts the items delivered to the workers and not taken up
	// yet (see Worker.Queue).
	Queued int64 `json:"queued,omitempty"`
	// BlockedSeconds is the time the stage spent handing items
	// downstream, nearly all of it waiting for room (backpressure).
	BlockedSeconds float64 `json:"blocked_seconds"`
	// ActiveWorkers is the number of workers routed to, between
	// MinWorkers and MaxWorkers (they differ under autoscaling).
	ActiveWorkers int `json:"workers_active,omitempty"`
	MinWorkers    int `json:"workers_min,omitempty"`
	MaxWorkers    int `json:"workers_max,omitempty"`
	// Restarts counts worker restarts, StageRestarts restarts of the
	// whole stage.
	Restarts      uint64   `json:"restarts,omitempty"`
	StageRestarts uint64   `json:"stage_restarts,omitempty"`
	Workers       []Worker `json:"workers,omitempty"`
}

// A Worker is one worker of a stage: per-worker counters tell fan-out
// skew (uneven Received and Processed) from head-of-line blocking (one
// worker Busy since long ago with its Queue growing while others idle).
type Worker struct {
	Index     int    `json:"index"`
	Path      string `json:"path"`
	Status    Status `json:"status"`
	Received  uint64 `json:"received"`
	Processed uint64 `json:"processed"`
	// Queue counts the items delivered to the worker that it has not
	// taken up yet, in its mailbox or in the batch it is handling.
	Queue    int    `json:"queue"`
	Restarts uint64 `json:"restarts"`
	Failures uint64 `json:"failures"`
	// Busy is set while the worker handles a batch of items, since
	// BusySince.
	Busy      bool       `json:"busy,omitempty"`
	BusySince *time.Time `json:"busy_since,omitempty"`
}

// KindStats aggregates the actors of one kind.
type KindStats struct {
	Kind     string `json:"kind"`
	Spawns   uint64 `json:"spawns"`
	Running  int    `json:"running"`
	Restarts uint64 `json:"restarts"`
	// Stops counts actors of this kind that stopped for good, by reason
	// (normal, shutdown, failure, killed).
	Stops map[string]uint64 `json:"stops,omitempty"`
	// Failures counts failures by error type.
	Failures     map[string]uint64 `json:"failures,omitempty"`
	Processed    uint64            `json:"processed"`
	MailboxDepth int               `json:"mailbox_depth"`
	MailboxMax   int               `json:"mailbox_depth_max"`
	MailboxLimit int               `json:"mailbox_limit"`
	// Dropped counts messages dropped by a mailbox policy, by policy.
	Dropped map[string]uint64 `json:"dropped,omitempty"`
	// The message clocks, set only when the System times messages
	// (actor.WithMessageTiming) and the kind has handled some: WaitDuration is
	// the time messages waited in their mailbox before their first
	// delivery, ProcessDuration the time of the Receives that did not
	// fail, ProcessFailed that of the ones that failed, by error type.
	WaitDuration    *Buckets            `json:"wait_duration,omitempty"`
	ProcessDuration *Buckets            `json:"process_duration,omitempty"`
	ProcessFailed   map[string]*Buckets `json:"process_failed_duration,omitempty"`
}

// Buckets is a histogram of durations, cumulative as in Prometheus.
type Buckets struct {
	// Bounds are the upper bounds of the buckets, in seconds
	// (LatencyBuckets itself: do not modify it); the +Inf bucket is
	// implied.
	Bounds []float64 `json:"bounds"`
	// Counts[i] counts the observations <= Bounds[i].
	Counts []uint64 `json:"counts"`
	// Count counts all observations, those above the last bound too.
	Count uint64 `json:"count"`
	// Sum is the sum of the observations, in seconds.
	Sum float64 `json:"sum"`
}

// A FailureID names one failure. Every event, log line, dead letter and
// tree node that the failure caused carries it. The zero ID means none.
type FailureID uint64

// String returns the ID as "f" and 8 or more hex digits, "" for none.
func (id FailureID) String() string {
	if id == 0 {
		return ""
	}
	s := strconv.FormatUint(uint64(id), 16)
	for len(s) < 8 {
		s = "0" + s
	}
	return "f" + s
}

// MarshalText implements encoding.TextMarshaler.
func (id FailureID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *FailureID) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*id = 0
		return nil
	}
	if b[0] != 'f' {
		return strconv.ErrSyntax
	}
	v, err := strconv.ParseUint(string(b[1:]), 16, 64)
	if err != nil {
		return err
	}
	*id = FailureID(v)
	return nil
}

// An Event is a lifecycle event of the runtime, as data.
type Event struct {
	Kind      string    `json:"kind"` // started, stopped, failed, restarted, killed, dead-letter, backoff, escalated, gave-up, leaked
	Path      string    `json:"path"`
	Time      time.Time `json:"time"`
	Reason    string    `json:"reason,omitempty"`
	FailureID FailureID `json:"failure_id,omitempty"`
	ErrorType string    `json:"error_type,omitempty"`
	// Message is the error text; sensitive, like Failure.Message.
	Message string `json:"message,omitempty"`
	// DelaySeconds is the backoff delay of a backoff event.
	DelaySeconds float64 `json:"delay_seconds,omitempty"`
	// Trace is what the Propagator injected into the failing message,
	// for a failure that happened while handling one; nil otherwise.
	Trace any `json:"-"`
}
