// Package observe is what troupe shows of itself, as plain data: the
// Snapshot of a System's supervision tree and pipelines, the Events of
// its runtime with the failure IDs that tie a failure to everything it
// caused, the canonical metric names, units and attribute keys that the
// adapters (troupe/otel, troupe/prom) export, and the Propagator hook
// through which a tracer's context travels with a message.
//
// It imports only the standard library, so the core packages can fill
// it in and exporters in other modules can read it without a dependency
// on each other. A [Source] (an *actor.System) is what a tree view or an
// exporter reads.
//
// # Nil
//
// A nil context.Context passed to a function of this package is treated
// as context.Background(); nil options are ignored.
package observe
