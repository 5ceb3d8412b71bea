// Package troupeotel exports what a troupe System shows of itself (an
// observe.Source: an *actor.System) through the OpenTelemetry API:
// metrics read from its Snapshot at collection time, supervision traces
// built from its event stream, and a Propagator that carries a caller's
// span context with each message.
//
// The package is named troupeotel, not otel, so that user code can import
// it next to go.opentelemetry.io/otel without renaming either. It depends
// on the OpenTelemetry API only (otel, otel/metric, otel/trace); the user
// picks the SDK and the exporters, and passes their providers with
// WithMeterProvider and WithTracerProvider (the default is the global
// provider as it is when Register runs).
//
// # Metrics
//
// Register creates one observable instrument per metric of observe.Metrics
// that a Snapshot or the event stream can give, with exactly the name,
// unit, description and attribute keys listed there, under the
// instrumentation scope ScopeName. One callback takes one Snapshot per
// collection (bounded by WithSnapshotTimeout) and observes every
// instrument from it, so nothing is measured between collections and the
// runtime's hot path is not touched. Actor kinds past WithMaxKinds are
// observed as "other" and counted by troupe.telemetry.kind_overflow.
// Supervisors are grouped by name (troupe.supervisor): the escalation
// counters of same-named supervisors add up; their restart usage and limit
// are the highest among them, so a single hot supervisor still shows.
// troupe.supervisor.backoff.delay is recorded from the backoff events.
//
// troupe.message.process.duration (by troupe.actor.kind, and error.type
// for the Receives that failed) and troupe.message.wait.duration are
// recorded as each message is handled when the System times messages
// (actor.WithMessageTiming): the OTel API has no asynchronous histogram, so
// Register adds a sink to a Source that is an observe.TimingSource (an
// *actor.System is) and Close removes it. Their bucket bounds are
// observe.LatencyBuckets. Without clocks they have no data.
//
// Not exported, because neither a Snapshot nor an event nor the clocks
// carry them: troupe.ask.duration, troupe.stage.process.duration,
// troupe.stage.batch.size, and troupe.chaos.faults.
//
// # Traces
//
// Install Propagator on the System with actor.WithPropagator so that the
// span context of the ctx given to Tell or Ask reaches the Context of the
// Receive that handles the message: spans that Receive starts are
// children of the sender's span.
//
// A failure while handling a message that carried a span context is
// recorded on that trace: a "troupe.process" span, child of the sender's
// span, with status Error, error.type, troupe.failure.id and the actor's
// path, and a span event for the failure. It is placed at the time of the
// failure with no duration, since the event stream says when a Receive
// failed, not when it began (the message clocks measure that, as
// histograms).
//
// From the event stream, each failure (a failed or killed event) starts
// a root span "troupe.supervise {supervisor}" for the supervisor that
// handles it, linked to that troupe.process span (if the failing message
// carried a span context), with attribute troupe.failure.id. The events that
// follow from the same failure become its children: "troupe.restart" per
// restarted child (from the previous step of the handling, or the end of
// its backoff, to the restart), "troupe.backoff" per delayed restart
// (spanning the delay), and "troupe.escalate" when a nested supervisor gives
// up; the parent supervisor's "troupe.supervise" span is a child of that
// escalate span, so a whole escalation chain is one trace. A supervise
// span carries troupe.supervisor.decision (restart, stop or escalate) and
// span events for the failure (failed, killed: the actor's path and
// error.type, never the error text), a give-up, and the stops and dead
// letters that carry its failure ID. Each failure is a root of its own
// (a message that fails on each of its delivery attempts makes one per
// attempt, each with its troupe.process span under the same sender span): bound them with the
// TracerProvider's sampler. Events the stream drops (a full subscription
// buffer, counted in Snapshot.EventsDropped) are missing from the spans;
// a restart whose failure was dropped gets an unlinked root. Open supervise
// spans are keyed by failure ID and supervisor; one ends, with the time
// of its last event as its end time, once no event of its failure has
// come for a settle time (WithSettleTime, extended by any backoff delay),
// at Close, or when the System shuts down. Its span context is kept for a
// minute after that, so a restart that comes late is still its child.
//
// What the events cannot say is left out rather than guessed: a message
// handled without failing has no troupe.process span (the Propagator has
// no hook at the end of Receive; a Receive starts its own spans from its
// Context); the
// siblings a group strategy stops carry no failure ID, so there are no
// "troupe.stop" spans; a failed restart gets a failure ID of its own, so
// what follows it is a new supervise trace.
//
// # Lifetime
//
// Register starts one goroutine, which reads the event stream; Close
// unregisters the callback, ends that goroutine and its subscription, and
// ends the open spans. Register once per System; Systems registered with
// one MeterProvider need distinct names (troupe.system).
package troupeotel
