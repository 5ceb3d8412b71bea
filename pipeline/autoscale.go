package pipeline

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/troupe-go/troupe/route"
)

// Scale configures a stage's autoscaler (see Autoscale). It is
// [route.Scale], the autoscaler of actor pools too. The stage has Max
// worker actors; producers route only to the first n of them, the active
// ones, and the autoscaler moves n between Min and Max. (An inactive
// worker holds no goroutine; it finishes what is queued for it.) The
// queue depth it samples is the batches queued in the workers'
// mailboxes, as a fraction of their capacity; see [route.Scale] for the
// rules.
type Scale = route.Scale

// scaler is the autoscaler state of one stage, owned by the pipeline's
// autoscale goroutine (busy is added to by the workers). The decisions
// are route.Scaler's.
type scaler struct {
	st    *stage
	cfg   Scale
	depth func() int // batches queued in all the stage's mailboxes
	capB  int        // mailbox capacity in batches
	busy  atomic.Int64
	rs    *route.Scaler
}

// sample runs one step of the autoscaler.
func (sc *scaler) sample(now time.Time) {
	st := sc.st
	n := int(st.active.Load())
	switch m := sc.rs.Sample(now, n, sc.depth(), time.Duration(sc.busy.Load())); {
	case m > n:
		st.active.Store(int32(m))
		st.scaleUps.Add(1)
	case m < n:
		st.active.Store(int32(m))
		st.scaleDowns.Add(1)
	}
}

// autoscaleLoop samples every autoscaled stage until ctx ends.
func autoscaleLoop(ctx context.Context, sc *scaler) {
	rs, err := route.NewScaler(sc.cfg, sc.capB, time.Now())
	if err != nil {
		return // cannot happen: Autoscale checked cfg, and capB ≥ 1
	}
	sc.rs = rs
	tk := time.NewTicker(sc.cfg.Every)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tk.C:
			sc.sample(now)
		}
	}
}
