package pipeline

import (
	"sync/atomic"
	"time"

	"github.com/troupe-go/troupe/pipeline/internal/hist"
)

// stageCounters are the counters of a stage, shared by its workers and
// producers (see StageStats; rerun.go zeroes them between runs). Workers
// add to them once per batch (see counts).
type stageCounters struct {
	in, out, emitted, filtered, dead, stopped atomic.Uint64
	errs, retries, restarts, stageRestarts    atomic.Uint64
	scaleUps, scaleDowns                      atomic.Uint64
	sent, taken                               atomic.Int64
	blocked                                   atomic.Int64   // ns spent sending downstream
	lat                                       hist.Histogram // per-item processing time
	// slots are the per-worker counters of the stage's workers: their
	// out, emitted and taken are added there only (see commitSlot), so
	// that workers do not share a cache line, and summed by stats.
	slots []*slotStats
}

// slotSums adds up the out, emitted and taken counters of the workers.
func (st *stage) slotSums() (out, emitted uint64, taken int64) {
	for _, ss := range st.slots {
		out += ss.out.Load()
		emitted += ss.emitted.Load()
		taken += ss.taken.Load()
	}
	return out, emitted, taken
}

// stats reads the stage's counters.
func (st *stage) stats() StageStats {
	out, emitted, taken := st.slotSums()
	s := StageStats{
		Name: st.name, Kind: st.kind, Workers: int(st.active.Load()),
		Out: st.out.Load() + out, Emitted: st.emitted.Load() + emitted, Filtered: st.filtered.Load(),
		DeadLettered: st.dead.Load(), Stopped: st.stopped.Load(),
		Errors: st.errs.Load(), Retries: st.retries.Load(),
		Restarts: st.restarts.Load(), StageRestarts: st.stageRestarts.Load(),
		ScaleUps: st.scaleUps.Load(), ScaleDowns: st.scaleDowns.Load(),
		Queued:  max(st.sent.Load()-st.taken.Load()-taken, 0),
		Latency: Latency(st.lat.Summary()),
	}
	s.In = st.in.Load() // read last: In only grows, so InFlight is never negative
	s.InFlight = int64(s.In) - int64(s.Out+s.Filtered+s.DeadLettered)
	return s
}

// deadLetter sends one item to the dead-letter store and counts it.
// Items stopped by the pipeline stay uncommitted for checkpoints; every
// other reason resolves the item.
func (st *stage) deadLetter(seq uint64, item any, reason DeadLetterReason, attempts int, err error, adj *adjBuf) (id uint64) {
	p := st.p
	id = p.dlID.Add(1)
	p.dlq.Add(DeadLetter{
		ID: id, Stage: st.name, Item: item, Seq: seq,
		Reason: reason, Attempts: attempts, Err: err, Time: time.Now(),
	})
	st.dead.Add(1)
	if reason == DeadStopped {
		st.stopped.Add(1)
		return id
	}
	if adj != nil {
		adj.add(seq, -1)
	} else if p.tracker != nil {
		p.tracker.apply([]seqDelta{{seq, -1}})
	}
	return id
}

// counts are a worker's local counters, added to the stage's atomics once
// per batch so that workers do not share cache lines per item.
type counts struct {
	out, emitted, filtered, errs, retries uint64
	poisoned                              uint64 // per-worker only: items dead-lettered after their last attempt
	taken                                 int64
}

func (st *stage) commit(c *counts) { st.commitSlot(c, nil) }

// commitSlot is commit that also adds to the per-worker counters ss (one
// of st.slots): out, emitted and taken go there only.
func (st *stage) commitSlot(c *counts, ss *slotStats) {
	if ss != nil {
		if n := c.out + c.filtered + c.poisoned; n != 0 {
			ss.done.Add(n)
		}
		if c.errs != 0 {
			ss.errs.Add(c.errs)
		}
		if c.taken != 0 {
			ss.taken.Add(c.taken)
		}
		if c.out != 0 {
			ss.out.Add(c.out)
		}
		if c.emitted != 0 {
			ss.emitted.Add(c.emitted)
		}
		c.out, c.emitted, c.taken = 0, 0, 0
	}
	if c.out != 0 {
		st.out.Add(c.out)
	}
	if c.emitted != 0 {
		st.emitted.Add(c.emitted)
	}
	if c.filtered != 0 {
		st.filtered.Add(c.filtered)
	}
	if c.errs != 0 {
		st.errs.Add(c.errs)
	}
	if c.retries != 0 {
		st.retries.Add(c.retries)
	}
	if c.taken != 0 {
		st.taken.Add(c.taken)
	}
	*c = counts{}
}

// slotStats are the counters of one worker (slot) for Snapshot: items
// delivered to it, finished by it (succeeded, filtered or poisoned),
// taken out of its mailbox, its failed attempts and restarts, and when
// it started on the batch it handles (a reading of mono, see busyMark;
// 0 when idle).
type slotStats struct {
	recv, done, errs, restarts atomic.Uint64
	out, emitted               atomic.Uint64 // the stage's Out and Emitted, by this worker
	taken                      atomic.Int64
	busySince                  atomic.Int64
	fid                        atomic.Uint64 // the worker's last failure (observe.FailureID), for logs
}
