// Package pipeline builds typed, supervised data pipelines on troupe's
// actors: what you would otherwise hand-write with goroutines, channels,
// an errgroup and a WaitGroup closer, with backpressure, retries, dead
// letters, supervision and accounting built in.
//
// A pipeline is a source, then stages, then sinks, linked by typed
// streams:
//
//	p := pipeline.New()
//	nums := pipeline.FromSlice(p, "numbers", []int{1, 2, 3, 4})
//	squares := pipeline.Map(nums, "square", square, pipeline.WithWorkers(4))
//	even := pipeline.Filter(squares, "even", isEven)
//	out := pipeline.Collect(even, "out")
//	err := p.Run(ctx) // nil once every item reached the sink
//
// Each builder is a function, not a method, because Go methods cannot add
// type parameters: Map(in *Stream[T], ...) returns a *Stream[U], and the
// next stage must take a U. Builders do not return errors: a pipeline
// built wrong (a nil function, zero workers, a duplicate name, a stream
// consumed twice or never) makes Start and Run return an error wrapping
// ErrInvalid, which lists every mistake.
//
// # Stages and the supervisor tree
//
// A stage is a supervisor over its worker actors, each with a bounded
// mailbox; the stage supervisors are children of the pipeline's root
// supervisor. The actor paths are /<pipeline>/<stage>/w<i> (see
// [actor.Context.Path]); a stage function gets its worker's
// [actor.Context] as its context.
//
// Sources: FromSlice, FromChan, FromSeq (an iter.Seq), FromFunc (a
// generator with a context and an error), FromResumable (positions and
// checkpoints) and FromLines (a file's lines, resumable by byte offset).
// Stages: Map (1→1), Filter, FlatMap (1→n), Chunk (by size
// and time) and Keyed (key-sharded workers with private per-key state and
// periodic flush). Sinks: ToFunc, ToChan and Collect. Fan-out: Tee
// (broadcast) and Split (by predicate). Fan-in: Merge, PriorityMerge (any
// number of tiers, each with a starvation-free quota) and Dynamic (inputs
// added and removed while running). Merge, Tee and Split cost no extra actor: the producers write
// to the consumers directly.
//
// # Batches
//
// Items move between actors in batches: one message carries up to
// WithBatchSize items, so the cost of a send (about 100 ns) is shared by
// the batch. Batching is adaptive: a producer sends a partial batch as
// soon as its own input is momentarily empty (a worker whose mailbox is
// empty, a channel source with nothing to read), so a lone item is not
// held back; FromSeq and FromFunc sources, which cannot see their input,
// send a partial batch after WithLinger. With the default batch size a
// 4-worker map moves several times as many small items per second as the
// same pipeline hand-written with cap-1024 channels (BenchmarkPipeline
// runs both); with a batch size of 1 it is several times slower.
//
// # Routing and scaling
//
// Producers spread batches over a stage's workers with its Router:
// LeastLoaded (the default: like a queue shared by the workers, a
// producer never waits on a full or stuck worker while another has room),
// RoundRobin, Weighted (deficit round-robin) or ByKey (the same key
// always reaches the same worker, in order). Autoscale keeps between Min
// and Max workers active, following the queue depth with hysteresis.
//
// # Order
//
// Workers of one stage finish in any order. Ordered makes a stage emit in
// its input order: its input is numbered, workers send their results to
// a reorder buffer, and a window bounds the items between the stage's
// input and the buffer; when the window is full, producers wait. Items of
// one producer keep their order through a one-worker stage and through
// ByKey routing (per key), with one exception: an item waiting out a
// Retry backoff is passed by the items behind it, except those of its
// key under ByKey routing (see Failures).
//
// # Failures
//
// A panic or an error returned by a stage function is a failed attempt of
// that item. An error is retried after the Retry backoff, exponential and
// jittered (each worker has its own generator; WithSeed makes it
// reproducible). With a zero backoff the item is retried at once, in
// place; otherwise it is parked while it waits: the worker goes on with
// the items behind it, and a timer brings the item back to the worker
// when its delay has passed. An Ordered stage still emits in input order
// (the parked item holds its place in the reorder window); under ByKey
// routing the later items of its key are parked behind it, in order,
// while other keys go on. A worker parks at most Buffer items, then takes
// no new input until the earliest is retried. The end of stream waits
// for the parked items.
//
// A panic fails the worker actor, as it fails any actor: the runtime
// recovers it and tells the worker which item failed through the actor's
// failure hook (actor.WithFailure); the pipeline recovers nothing itself.
// Its stage supervisor restarts it (with the WithSupervision strategy,
// intensity and backoff), and the runtime hands the batch being handled
// to the fresh worker, which resumes at the item
// that failed, with that attempt counted: items before it are not
// redone, items after it are not lost. After its last attempt an item
// goes to the dead-letter store as poison, with its stage, error and
// attempt count, and the worker moves on. A stage supervisor that gives
// up (too many restarts) fails the pipeline with a *StageError naming the
// stage, or, with WithGiveUp(RestartStage), is restarted by the root
// supervisor with fresh workers that take over the items the old ones
// held.
//
// Dead letters are a queue, not a log line: each DeadLetter keeps the
// item, the stage, the reason (poison, stopped, overflow, deadline), the
// attempts and the error. The default store is a bounded MemoryStore
// (oldest evicted and counted); WithDeadLetterStore plugs in another.
// DeadLetterStore.List filters them, and Pipeline.Replay sends them back
// into their stages while the pipeline runs.
//
// # Backpressure and the buffer bound
//
// Backpressure is end to end: a full mailbox blocks its producer, up to
// the source, so a slow sink slows the source. With batch size B, a stage
// whose workers have Buffer n holds at most, per worker: ceil(n/B)
// batches in its mailbox, the batch it is handling, and its pending
// output (one batch, or one per downstream worker under ByKey routing;
// all the outputs of one FlatMap item are kept together), plus at most n
// items parked for a retry backoff. A source holds at most one pending
// batch (one per downstream worker under ByKey). On top of that an
// Ordered stage holds at most its window, a PriorityMerge one queue of
// ceil(n/B) batches per tier, a Chunk worker its group. Overflow makes a stage
// drop instead of waiting; dropped items are dead-lettered with
// DeadDropped.
//
// # Accounting
//
// Every stage counts In, Out, Filtered and DeadLettered items, and at
// every quiescent point In = Out + Filtered + DeadLettered: nothing is
// lost, including after panics, restarts and cancellation (Stats,
// StageStats). Items inside the pipeline when it aborts are dead-lettered
// with DeadStopped and counted in DeadLettered and Stopped. An attempt
// cut short by a stop (of the pipeline, or of a worker's incarnation by
// a restart) is not counted in Errors.
//
// # Observing a run
//
// System returns the actor system the pipeline runs on (named like the
// pipeline, see WithName); its Snapshot, which the treeview, prom and
// otel packages read, holds the pipeline as Observe returns it: its
// state, checkpoint positions, and per stage the counters of Stats plus
// those of every worker (received, processed, queue, failures, restarts,
// and busy since when), which tell fan-out skew from head-of-line
// blocking. With WithLogger, the pipeline logs an item dead-lettered
// after its last attempt at Warn (the first at once, then at most one
// line a second with the count suppressed since the line before), each
// retried attempt at Debug, a worker restart at Info, a failure at Error,
// and a summary line ("pipeline finished") with the counts at the end.
// WithActorOptions passes options to that System: actor.WithMessageTiming for
// the message clocks, actor.WithPropagator for trace context, and
// actor.WithProfilerLabels, under which every stage's workers run with
// the pprof labels troupe.pipeline and troupe.stage, so a CPU profile
// says which stage spent the time.
//
// # Ending: end of input, Stop, cancellation
//
// End of input: when a source's input ends, an end-of-stream marker
// follows its last batch through every stage, behind all the data; a
// stage passes it on once all its workers handled theirs, so Wait returns
// nil exactly when the sinks have everything. Then the actors stop and
// ToChan channels are closed.
//
// Stop(ctx) drains gracefully: sources stop reading their input (a
// channel keeps what was not read; a resumable source's checkpoint does
// not cover it), everything already read flows to the sinks, and Wait
// returns nil. If ctx ends first, the pipeline is aborted and Stop and
// Wait return ErrDrainTimeout.
//
// Abort (the Start context cancelled, a fatal error, a drain timeout):
// sources stop at once; workers stop taking items and their stage
// functions see their context cancelled; the actors are stopped, sink
// first; every item still inside (queued, in hand, parked for a retry,
// pending output, reorder or merge buffers, batch groups) is
// dead-lettered with DeadStopped. Keyed state is dropped (what the
// last state checkpoint saved of it stays saved). Wait returns
// the cause. Stage functions that ignore their context are abandoned
// after WithShutdown and reported as leaked by the actor system;
// the items they hold stay counted in InFlight.
//
// # In a service: on a System, as a child, linked to actors
//
// By default a pipeline runs on an actor System of its own. WithSystem
// runs it on a given System instead (its root supervisor is /<name>
// there), and Pipeline.Spec makes it a supervisor's child: each start of
// the child is a run whose root supervisor is the child's only child, so
// Snapshot and the tree view show the stages and workers in place. The
// run's end is the child's exit (nil: normal; an error: failure, with the
// error), so the parent's restart type decides as in OTP (Transient:
// restarted only after a failure), and a restarted child resumes its
// resumable sources from their checkpoints. Failures inside a stage
// (a worker's panic) are handled by the stage's supervisor, inside the
// child. A System that hosts pipelines needs no option for them: the
// batches the runtime could not deliver to a worker (it stopped with
// batches queued) go back to their pipeline through the worker's own
// hook (actor.WithUndelivered), never to the System's dead letters.
//
// A pipeline is a definition: Rerun starts it again after a run ended,
// and a pipeline child's restart does the same. Each run is an
// incarnation: counters start from zero (Stats and Observe show the
// current run); the dead-letter store, a Collector's items and the
// checkpoints carry over. A pipeline with a ToChan sink (which closes its
// channel) or a Dynamic merge runs once.
//
// FromRef is a source fed by actors: the Ref of its inlet actor has a
// bounded mailbox, so a full source makes Tell wait and TryTell fail
// with actor.ErrFull; Inlet.Close ends the stream after what the Ref
// accepted. Inlet.Ref is one Ref for every run (it forwards to each
// run's inlet actor), so actors can keep it across a Rerun or a restart
// of a pipeline child. ToRef is a sink that delivers each item to an actor with an
// ack function: the item is done (counted, and covered by the
// checkpoint) when the actor acknowledges it; a negative acknowledgement
// is a failed attempt (Retry, then poison), and each worker has one item
// in flight, so Workers(n) bounds the items awaiting an ack.
//
// # Checkpoints
//
// FromResumable reads from a position loaded from a Checkpointer
// (FileCheckpointer: temporary file, fsync, atomic rename). Its input
// emits each item with its next position, where the input after the item
// starts (as Kafka commits the offset of the next record to read; for a
// file, the byte offset after the record, not its offset + 1). The
// pipeline commits its low watermark: the next position of the last item
// before the oldest one not yet out of a sink, filtered, or dead-lettered
// (other than as stopped). Restarting from the checkpoint starts between
// two items, skips none, and reprocesses at most the items after it that
// were done; after a complete run it reads nothing. FromLines is such a
// source for the lines of a file.
//
// With keyed stages and a StateCheckpointer (FileCheckpointer is one),
// each checkpoint saves the position and the keyed stages' states
// together, at a consistent cut: the source pauses between two items,
// the pipeline waits until every item before the pause is done or folded
// into a state, and the keyed workers encode their states (KeyedSpec.Codec,
// gob by default). An item is done once folded into a state, so the
// watermark advances without flushes, and a resumed run restores the
// states: its totals are those of an uninterrupted run. See
// docs/architecture.md, "State checkpoints", for the algorithm and what a
// database-backed StateCheckpointer must guarantee.
//
// # Goroutines
//
// The actors run on the actor system's goroutines. The pipeline adds one
// goroutine per source (and per Dynamic input), which ends with its input
// or when the pipeline stops its sources; one goroutine per running
// pipeline that ends it and closes Done as its last step; one checkpoint
// goroutine per pipeline that has a FromResumable source; one
// autoscaler goroutine per stage with Autoscale; and, on a System the
// pipeline does not own, one short goroutine when its root supervisor
// stops. Timers only post
// messages. The checkpoint and autoscaler goroutines end before Wait
// returns. A source that does not return when the pipeline stops (a
// FromFunc or FromResumable function that ignores its context, a FromSeq
// iterator that blocks without yielding) is waited for
// WithShutdown, then abandoned with a warning in the log: Wait
// returns while it still runs (and one more goroutine waits for it), and
// both end whenever the function returns.
//
// # Nil contexts and options
//
// A nil [context.Context] is treated as [context.Background]: no call
// panics or fails because of it, and a call that waits for its context
// waits as long as it takes. A nil option in an option list is skipped,
// and so is an option given a nil value (a nil logger, clock, function,
// store or injector), as if it were left out. Here that means Start and
// Run with a nil ctx run until the input ends or Stop, and Stop with a
// nil ctx drains for as long as it takes.
package pipeline
