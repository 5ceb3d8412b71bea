package observe

import (
	"context"
	"time"
)

// Attribute keys: the only keys troupe's metrics carry (OTel names; the
// Prometheus label is the same with dots turned into underscores).
// Never a label: an actor's path, name or ID, incarnation, message type,
// error text, stack, trace or failure ID.
const (
	AttrSystem           = "troupe.system"
	AttrActorKind        = "troupe.actor.kind"
	AttrSupervisor       = "troupe.supervisor"
	AttrStrategy         = "troupe.supervisor.strategy"
	AttrPipeline         = "troupe.pipeline"
	AttrStage            = "troupe.stage"
	AttrErrorType        = "error.type"
	AttrStopReason       = "troupe.stop.reason"
	AttrMailboxPolicy    = "troupe.mailbox.policy"
	AttrDeadLetterReason = "troupe.deadletter.reason"
	AttrChaosFault       = "troupe.chaos.fault"
)

// Values of AttrErrorType.
const (
	ErrorPanic         = "panic"
	ErrorError         = "error"
	ErrorTimeout       = "timeout" // a message deadline overrun
	ErrorCanceled      = "canceled"
	ErrorStart         = "start_error"
	ErrorShutdown      = "shutdown_error"
	ErrorKilled        = "killed"
	ErrorOtherKind     = "other" // kinds beyond the cap fold into it
	DefaultMaxKinds    = 256
	SpanProcess        = "troupe.process"
	SpanSupervise      = "troupe.supervise"
	SpanRestart        = "troupe.restart"
	SpanStop           = "troupe.stop"
	SpanEscalate       = "troupe.escalate"
	AttrFailureID      = "troupe.failure.id"
	AttrActorPath      = "troupe.actor.path"
	AttrIncarnation    = "troupe.actor.incarnation"
	AttrRestartCount   = "troupe.restart.count"
	AttrBackoffDelay   = "troupe.backoff.delay"
	AttrDecision       = "troupe.supervisor.decision"
	AttrRestartUsage   = "troupe.supervisor.restart.usage"
	AttrRestartLimitSp = "troupe.supervisor.restart.limit"
)

// Instrument kinds of a Metric.
const (
	Counter       = "counter"
	UpDownCounter = "updowncounter"
	Gauge         = "gauge"
	Histogram     = "histogram"
)

// A Metric is one metric of the canonical set: its OTel name, the
// Prometheus name the same definition yields (OTel's exporter: dots to
// underscores, unit suffix, _total on counters), instrument, UCUM unit,
// attribute keys, and whether it needs a per-message clock (OptIn).
type Metric struct {
	Name, PromName, Instrument, Unit, Description string
	Attributes                                    []string
	OptIn                                         bool
}

// Metrics is the canonical metric set, as ../shared/OBSERVABILITY.md
// §b.2 lists it. Both adapters export exactly these names.
var Metrics = []Metric{
	{"troupe.actor.spawns", "troupe_actor_spawns_total", Counter, "{actor}", "Actors spawned.", []string{AttrSystem, AttrActorKind}, false},
	{"troupe.actor.stops", "troupe_actor_stops_total", Counter, "{actor}", "Actors stopped for good.", []string{AttrSystem, AttrActorKind, AttrStopReason}, false},
	{"troupe.actor.running", "troupe_actor_running", UpDownCounter, "{actor}", "Actors with a running incarnation.", []string{AttrSystem, AttrActorKind}, false},
	{"troupe.actor.failures", "troupe_actor_failures_total", Counter, "{failure}", "Failed incarnations.", []string{AttrSystem, AttrActorKind, AttrErrorType}, false},
	{"troupe.actor.restarts", "troupe_actor_restarts_total", Counter, "{restart}", "Restarts of actors.", []string{AttrSystem, AttrActorKind}, false},
	{"troupe.supervisor.escalations", "troupe_supervisor_escalations_total", Counter, "{escalation}", "Times a supervisor gave up because its restart intensity was exceeded.", []string{AttrSystem, AttrSupervisor}, false},
	{"troupe.supervisor.restart.usage", "troupe_supervisor_restart_usage", Gauge, "{restart}", "Restarts inside the supervisor's current intensity period.", []string{AttrSystem, AttrSupervisor}, false},
	{"troupe.supervisor.restart.limit", "troupe_supervisor_restart_limit", Gauge, "{restart}", "The supervisor's restart intensity (MaxR).", []string{AttrSystem, AttrSupervisor}, false},
	{"troupe.supervisor.backoff.delay", "troupe_supervisor_backoff_delay_seconds", Histogram, "s", "Backoff delays before restarts.", []string{AttrSystem, AttrSupervisor}, false},
	{"troupe.mailbox.depth", "troupe_mailbox_depth", Gauge, "{message}", "Messages queued, summed over the actors of a kind.", []string{AttrSystem, AttrActorKind}, false},
	{"troupe.mailbox.depth.max", "troupe_mailbox_depth_max", Gauge, "{message}", "The deepest mailbox of a kind.", []string{AttrSystem, AttrActorKind}, false},
	{"troupe.mailbox.limit", "troupe_mailbox_limit", Gauge, "{message}", "Capacities of the bounded mailboxes of a kind, summed.", []string{AttrSystem, AttrActorKind}, false},
	{"troupe.mailbox.dropped", "troupe_mailbox_dropped_total", Counter, "{message}", "Messages dropped by a mailbox policy.", []string{AttrSystem, AttrActorKind, AttrMailboxPolicy}, false},
	{"troupe.message.processed", "troupe_message_processed_total", Counter, "{message}", "Messages handled.", []string{AttrSystem, AttrActorKind}, false},
	{"troupe.message.process.duration", "troupe_message_process_duration_seconds", Histogram, "s", "Time to handle a message.", []string{AttrSystem, AttrActorKind, AttrErrorType}, true},
	{"troupe.message.wait.duration", "troupe_message_wait_duration_seconds", Histogram, "s", "Time a message waited in its mailbox.", []string{AttrSystem, AttrActorKind}, true},
	{"troupe.message.dead_lettered", "troupe_message_dead_lettered_total", Counter, "{message}", "Messages that went to dead letters.", []string{AttrSystem, AttrDeadLetterReason}, false},
	{"troupe.ask.duration", "troupe_ask_duration_seconds", Histogram, "s", "Ask round trips.", []string{AttrSystem, AttrActorKind, AttrErrorType}, true},
	{"troupe.stage.received", "troupe_stage_received_total", Counter, "{message}", "Items a stage received.", []string{AttrSystem, AttrPipeline, AttrStage}, false},
	{"troupe.stage.emitted", "troupe_stage_emitted_total", Counter, "{message}", "Items a stage emitted.", []string{AttrSystem, AttrPipeline, AttrStage}, false},
	{"troupe.stage.failures", "troupe_stage_failures_total", Counter, "{message}", "Items that failed in a stage.", []string{AttrSystem, AttrPipeline, AttrStage}, false},
	{"troupe.stage.in_flight", "troupe_stage_in_flight", UpDownCounter, "{message}", "Items inside a stage.", []string{AttrSystem, AttrPipeline, AttrStage}, false},
	{"troupe.stage.blocked.time", "troupe_stage_blocked_time_seconds_total", Counter, "s", "Time a stage waited on a full downstream.", []string{AttrSystem, AttrPipeline, AttrStage}, false},
	{"troupe.stage.process.duration", "troupe_stage_process_duration_seconds", Histogram, "s", "Time to process an item in a stage.", []string{AttrSystem, AttrPipeline, AttrStage, AttrErrorType}, true},
	{"troupe.stage.batch.size", "troupe_stage_batch_size", Histogram, "{message}", "Sizes of the batches a batching stage emits.", []string{AttrSystem, AttrPipeline, AttrStage}, false},
	{"troupe.chaos.faults", "troupe_chaos_faults_total", Counter, "{fault}", "Faults injected by a chaos monkey.", []string{AttrSystem, AttrChaosFault}, false},
	{"troupe.telemetry.kind_overflow", "troupe_telemetry_kind_overflow_total", Counter, "{kind}", "Actor kinds folded into \"other\" past the cap.", []string{AttrSystem}, false},
}

// LatencyBuckets are the bucket bounds, in seconds, of the latency
// histograms: an in-process receive takes microseconds, so they start
// three decades below the usual 5 ms.
var LatencyBuckets = []float64{1e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// BackoffBuckets are the bucket bounds, in seconds, of backoff delays.
var BackoffBuckets = []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// A Propagator carries a caller's trace context with a message, from the
// Tell or Ask that sends it to the Receive that handles it. The runtime
// calls Inject on the sending goroutine with the sender's ctx; if it
// returns non-nil, the value travels in the message's envelope, and the
// Context of the Receive that handles it has the values of
// Extract(ctx, carried) (ctx is the Receive's own context). Both must be
// fast and safe for concurrent use. With no Propagator installed nothing
// is carried and nothing is called.
type Propagator interface {
	Inject(ctx context.Context) any
	Extract(ctx context.Context, carried any) context.Context
}

// A TimingSink hears the clocks of each message as it is handled, from a
// System that times messages (actor.WithMessageTiming). ObserveMessage runs on
// the actor's goroutine right after each Receive, concurrently for
// different actors, so it must be fast and must not block: wait is the
// time the message waited in its mailbox before its first delivery
// (negative for a redelivery, whose wait was reported already), process
// the time of the Receive, errorType "" if it did not fail (else its
// error.type).
type TimingSink interface {
	ObserveMessage(kind, errorType string, wait, process time.Duration)
}

// A TimingSource is a Source that reports its message clocks to sinks as
// they happen (for exporters whose histograms cannot be read from a
// Snapshot, such as OpenTelemetry's). An *actor.System is one; with
// clocks off it never calls a sink.
type TimingSource interface {
	Source
	// AddTimingSink adds s; remove takes it out again (idempotent).
	AddTimingSink(s TimingSink) (remove func())
}
