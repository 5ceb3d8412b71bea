package pool

import (
	"context"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/route"
)

// startScaler starts the autoscaler for the life of worker 1's actor
// (pid), unless one already runs for it. The workers stop for good only
// when the pool does.
func (p *Pool[M]) startScaler(pid actor.PID) {
	p.scaleMu.Lock()
	defer p.scaleMu.Unlock()
	if p.scaleOn == pid {
		return
	}
	p.scaleOn = pid
	done := make(chan struct{})
	p.scaled = done
	// Owner: the pool; it returns when worker 1 stops for good (the pool
	// stopped), and Stop and Wait wait for it.
	go func() {
		defer close(done)
		p.autoscale(pid.Done())
	}()
}

// autoscale samples the pool every Scale.Every until stop is closed.
func (p *Pool[M]) autoscale(stop <-chan struct{}) {
	sc, err := route.NewScaler(*p.cfg.scale, p.cfg.mailbox, time.Now())
	if err != nil {
		return // cannot happen: Autoscale and Mailbox checked them
	}
	tk := time.NewTicker(sc.Config().Every)
	defer tk.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-tk.C:
			n := int(p.active.Load())
			depth, busy := 0, time.Duration(0)
			for i := range p.slots {
				depth += p.load(i) - int(p.slots[i].busy.Load())
				busy += time.Duration(p.slots[i].busyNs.Load())
			}
			switch m := sc.Sample(now, n, depth, busy); {
			case m > n:
				p.active.Store(int32(m))
				p.ups.Add(1)
			case m < n:
				p.active.Store(int32(m))
				p.downs.Add(1)
			}
		}
	}
}

// waitScaler waits for the autoscaler (if any) to return, or for ctx.
func (p *Pool[M]) waitScaler(ctx context.Context) error {
	p.scaleMu.Lock()
	done := p.scaled
	p.scaleMu.Unlock()
	if done == nil {
		return nil
	}
	if ctx == nil {
		ctx = context.Background()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
