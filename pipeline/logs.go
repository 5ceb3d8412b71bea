package pipeline

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/observe"
)

// deadLogEvery is the least time between two log lines about poison
// items: the first is logged at once, the next ones at most this often,
// each with the number of items not logged since the line before.
const deadLogEvery = time.Second

// deadLog rate-limits the Warn lines about poison items.
type deadLog struct {
	last  atomic.Int64  // unix ns of the last line
	since atomic.Uint64 // poison items since the last line
	total atomic.Uint64 // poison items in all
}

// errorType classifies an item's last error for the error.type field.
func errorType(reason DeadLetterReason, err error) string {
	if reason == DeadTimeout {
		return observe.ErrorTimeout
	}
	return actor.ErrorType(err)
}

// logPoison logs an item dead-lettered after its last attempt, rate
// limited. fid is the worker's failure when the last attempt panicked.
func (p *Pipeline) logPoison(st *stage, id uint64, reason DeadLetterReason, attempts int, err error, fid observe.FailureID) {
	l := &p.deadLog
	l.total.Add(1)
	l.since.Add(1)
	if !p.cfg.log.Core().Enabled(zapcore.WarnLevel) {
		return
	}
	now := time.Now().UnixNano()
	last := l.last.Load()
	if last != 0 && now-last < int64(deadLogEvery) {
		return
	}
	if !l.last.CompareAndSwap(last, now) {
		return
	}
	n := l.since.Swap(0)
	fields := []zap.Field{
		zap.String("pipeline", p.cfg.name), zap.String("stage", st.name),
		zap.String("reason", reason.String()), zap.Uint64("dead_letter_id", id),
		zap.String("error.type", errorType(reason, err)), zap.Int("attempts", attempts),
		zap.Uint64("suppressed", n-1), zap.Uint64("total", l.total.Load()),
	}
	if fid != 0 {
		fields = append(fields, zap.Stringer("failure_id", fid))
	}
	p.cfg.log.Warn("pipeline: item dead-lettered", fields...)
}

// logRetry logs a failed attempt that will be retried (Debug).
func (p *Pipeline) logRetry(st *stage, attempt int, err error) {
	if ce := p.cfg.log.Check(zapcore.DebugLevel, "pipeline: attempt failed, retrying"); ce != nil {
		ce.Write(zap.String("pipeline", p.cfg.name), zap.String("stage", st.name),
			zap.Int("attempt", attempt), zap.String("error.type", errorType(0, err)), zap.Error(err))
	}
}

// logRestart logs the restart of a stage worker (Info).
func (p *Pipeline) logRestart(st *stage, idx int, ss *slotStats) {
	if ce := p.cfg.log.Check(zapcore.InfoLevel, "pipeline: stage worker restarted"); ce != nil {
		fields := []zap.Field{zap.String("pipeline", p.cfg.name), zap.String("stage", st.name),
			zap.Int("worker", idx), zap.Uint64("restarts", ss.restarts.Load())}
		if fid := observe.FailureID(ss.fid.Load()); fid != 0 {
			fields = append(fields, zap.Stringer("failure_id", fid))
		}
		ce.Write(fields...)
	}
}

// onWorkerFailed keeps the failure ID of a stage worker's failure, for
// the log lines about the items and the restart it causes.
func (p *Pipeline) onWorkerFailed(e actor.Event) {
	if ss := p.slotsByPath[e.Path]; ss != nil && e.FailureID != 0 {
		ss.fid.Store(uint64(e.FailureID))
	}
}

// logEnd logs the end of the pipeline: the poison items not logged
// yet, a failure (Error; Info for a cancelled context), and a summary.
func (p *Pipeline) logEnd(cause error, took time.Duration) {
	log := p.cfg.log
	if n := p.deadLog.since.Swap(0); n > 0 && log.Core().Enabled(zapcore.WarnLevel) {
		log.Warn("pipeline: items dead-lettered", zap.String("pipeline", p.cfg.name),
			zap.Uint64("suppressed", n), zap.Uint64("total", p.deadLog.total.Load()))
	}
	if cause != nil {
		fields := []zap.Field{zap.String("pipeline", p.cfg.name), zap.Error(cause)}
		var se *StageError
		if errors.As(cause, &se) {
			fields = append(fields, zap.String("stage", se.Stage), zap.String("error.type", actor.ErrorType(se.Err)))
			if fid := actorFailureID(se.Err); fid != 0 {
				fields = append(fields, zap.Stringer("failure_id", fid))
			}
		}
		if errors.Is(cause, context.Canceled) {
			log.Info("pipeline aborted", fields...)
		} else {
			log.Error("pipeline failed", fields...)
		}
	}
	if ce := log.Check(zapcore.InfoLevel, "pipeline finished"); ce != nil {
		var read, delivered, dead, stopped, filtered uint64
		for _, s := range p.Stats() {
			switch s.Kind {
			case "source":
				read += s.In
			case "sink":
				delivered += s.Out
			}
			dead += s.DeadLettered
			stopped += s.Stopped
			filtered += s.Filtered
		}
		state := stateDone
		if cause != nil {
			state = stateFailed
		}
		ce.Write(zap.String("pipeline", p.cfg.name), zap.String("state", state),
			zap.Uint64("read", read), zap.Uint64("delivered", delivered), zap.Uint64("filtered", filtered),
			zap.Uint64("dead_lettered", dead), zap.Uint64("poison", p.deadLog.total.Load()),
			zap.Uint64("stopped", stopped), zap.Duration("duration", took))
	}
}

// actorFailureID returns the failure ID err carries, or 0.
func actorFailureID(err error) observe.FailureID {
	var c interface{ FailureID() observe.FailureID }
	if err != nil && errors.As(err, &c) {
		return c.FailureID()
	}
	return 0
}
