package pipeline

import "time"

// StageStats are the counters of one stage (or source or merge). At every
// quiescent point In = Out + Filtered + DeadLettered, that is, InFlight
// is 0: nothing is lost. For a source, In counts the items read from its
// input.
type StageStats struct {
	Name string
	// Kind is "source", "map", "filter", "flatmap", "chunk", "keyed",
	// "merge", "priority" or "sink".
	Kind string
	// Workers is the number of active workers.
	Workers int
	// In counts items accepted into the stage's mailboxes.
	In uint64
	// Out counts input items the stage finished successfully (for a
	// flat-map, inputs whose outputs were all emitted; for a sink, items
	// consumed).
	Out uint64
	// Emitted counts items the stage passed downstream.
	Emitted uint64
	// Filtered counts items a filter dropped.
	Filtered uint64
	// DeadLettered counts items that went to the dead-letter store from
	// this stage, Stopped those among them dead-lettered because the
	// pipeline stopped.
	DeadLettered, Stopped uint64
	// Errors counts failed attempts (returned errors and panics);
	// Retries counts attempts after the first.
	Errors, Retries uint64
	// Restarts counts worker restarts; StageRestarts counts restarts of
	// the whole stage after its supervisor gave up.
	Restarts, StageRestarts uint64
	// InFlight is In − Out − Filtered − DeadLettered: items queued, being
	// handled, or held (batch and keyed state, reorder buffer).
	InFlight int64
	// Queued counts items waiting in the workers' mailboxes.
	Queued int64
	// ScaleUps and ScaleDowns count autoscaler decisions.
	ScaleUps, ScaleDowns uint64
	// Latency is the distribution of per-item processing time, measured
	// per batch (batch time / items).
	Latency Latency
}

// Latency summarises a latency distribution (bucketed, within about 7%).
type Latency struct {
	Count              uint64
	P50, P90, P99, Max time.Duration
}
