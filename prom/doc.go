// Package prom exports troupe's metrics to Prometheus: a
// [prometheus.Collector] that reads an [observe.Source] (an
// *actor.System) when it is scraped, the way
// collectors.NewDBStatsCollector reads database/sql's stats. The user
// registers it on their own Registerer and serves it with their own
// handler; the package starts no listener, registers nothing globally and
// costs nothing between scrapes (no goroutine, no hook on the hot path).
//
//	reg := prometheus.NewRegistry()
//	if err := reg.Register(prom.NewCollector(sys)); err != nil {
//		return err
//	}
//	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// The names, help texts and label keys are those of [observe.Metrics], the
// set the OTel adapter (troupe/otel) exports too, so one dashboard works
// with either path. A label is the OTel attribute key with dots turned
// into underscores: troupe_system, troupe_actor_kind, troupe_supervisor,
// troupe_pipeline, troupe_stage, error_type, troupe_stop_reason,
// troupe_mailbox_policy, troupe_deadletter_reason. Every metric carries
// troupe_system.
//
// # What is exported
//
// Everything of observe.Metrics that a Snapshot holds:
//
//   - per actor kind (Snapshot.Kinds): troupe_actor_spawns_total,
//     troupe_actor_stops_total (by troupe_stop_reason),
//     troupe_actor_running, troupe_actor_failures_total (by error_type),
//     troupe_actor_restarts_total, troupe_mailbox_depth,
//     troupe_mailbox_depth_max, troupe_mailbox_limit,
//     troupe_mailbox_dropped_total (by troupe_mailbox_policy),
//     troupe_message_processed_total;
//   - per supervisor (every node with Node.Supervisor set), labelled
//     troupe_supervisor with the supervisor's spec name (Node.Name), never
//     its path: troupe_supervisor_escalations_total (Supervisor.GaveUp),
//     troupe_supervisor_restart_usage (Supervisor.RestartsInWindow) and
//     troupe_supervisor_restart_limit (Supervisor.MaxRestarts).
//     Supervisors that share a spec name in different places of the tree
//     are one series: give-ups summed, usage and limit those of the one
//     closest to its limit, so an alert on usage/limit fires when any of
//     them is about to escalate (observe.KindCap.Totals, which troupe/otel
//     uses too). Spec
//     names come from code and are not capped: a supervisor added with
//     StartChild should get a fixed id, not one made per request;
//   - troupe_message_dead_lettered_total by troupe_deadletter_reason
//     (Snapshot.DeadLetters);
//   - per pipeline stage, labelled troupe_pipeline and troupe_stage:
//     troupe_stage_received_total, troupe_stage_emitted_total,
//     troupe_stage_failures_total, troupe_stage_in_flight,
//     troupe_stage_blocked_time_seconds_total;
//   - troupe_telemetry_kind_overflow_total (see Cardinality);
//   - when the System times messages (actor.WithMessageTiming), per kind:
//     troupe_message_wait_duration_seconds and
//     troupe_message_process_duration_seconds (error_type "" for the
//     Receives that did not fail, else their error type), histograms with
//     the bounds observe.LatencyBuckets (KindStats.WaitDuration,
//     ProcessDuration, ProcessFailed).
//
// A series appears once the Snapshot has something to say about it: a
// stop reason, error type, drop policy or dead-letter reason that never
// happened has no series (use absent() or "or vector(0)" in queries).
//
// # What is not, and why
//
// A Snapshot holds counts, depths and the message clocks, not other
// distributions or per-event records, so these metrics of
// observe.Metrics are not exported here:
//
//   - troupe_ask_duration_seconds and
//     troupe_stage_process_duration_seconds: opt-in histograms the core
//     does not time yet.
//   - troupe_supervisor_backoff_delay_seconds: a histogram of the delays
//     of backoff events, which only the event stream carries.
//   - troupe_chaos_faults_total: the faults a chaos monkey injected are
//     counted by the monkey, not by the System's Snapshot.
//   - troupe_stage_batch_size: a histogram of batch sizes, recorded as
//     batches are made.
//
// # Cardinality
//
// No label ever holds an actor's path, the name of a dynamic actor, an
// incarnation, a message type or error text. Actor kinds are capped
// ([WithMaxKinds], default [observe.DefaultMaxKinds]): the first kinds the
// collector sees keep their own series for its lifetime, so a counter
// never moves between a kind and the bucket, and every further kind is
// added into troupe_actor_kind="other". troupe_telemetry_kind_overflow_total
// counts the distinct kinds folded that way: the most any scrape has
// folded (the System keeps every kind it has seen, so this is every kind
// folded so far). The System caps its own kinds at
// observe.DefaultMaxKinds too; the kinds it folded arrive as "other" and
// are not counted here, since a Snapshot does not say how many they were.
// Label values that are not valid UTF-8 are repaired so that one bad name
// cannot fail a scrape.
//
// # Scrapes
//
// Each Collect reads one Snapshot (Describe reads none); a scrape that
// comes while another's Snapshot is being taken waits for that one. The Source's
// context ends after three quarters of the snapshot timeout
// ([WithSnapshotTimeout], default 2 s), so a supervisor that does not
// answer is marked unresponsive while its counters, read without waiting
// for it, are still exported. If the Source has not returned when the
// whole timeout is over, the scrape reports [ErrSnapshotTimeout] (with
// promhttp's default HandlerOpts that is an HTTP 500, which Prometheus
// records as up == 0) instead of hanging. Since scrapes share the
// Snapshot in flight, a Source that never returns holds at most one
// goroutine of the collector.
package prom
