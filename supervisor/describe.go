package supervisor

import (
	"context"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/observe"
	"github.com/troupe-go/troupe/strategy"
)

// childView is what a supervisor tells a Snapshot of one child.
type childView struct {
	id      string
	restart strategy.Restart
	kind    ChildType
	status  strategy.Status
	backoff bool      // a restart is delayed
	next    time.Time // when it is due
	delays  int       // backoff delays since a restart without one
}

// describeCmd asks the supervisor for its children, for a Snapshot.
type describeCmd struct{ reply actor.Reply[[]childView] }

func (describeCmd) isCommand() {}

func (s *sup) views() []childView {
	out := make([]childView, len(s.children))
	for i, c := range s.children {
		out[i] = childView{id: c.spec.ID, restart: c.spec.Restart, kind: c.spec.kind, status: c.status,
			backoff: c.timer != nil, next: c.next, delays: c.delays}
	}
	return out
}

// Describe implements actor.Describer: it adds the supervisor's strategy,
// intensity and counters (read without waiting for it) and, from the
// supervisor itself, each child's restart type and status (a child in
// backoff shows when it starts again). A supervisor that does not answer
// before ctx ends is marked unresponsive, its children shown as the
// runtime sees them.
func (s *sup) Describe(ctx context.Context) func(*observe.Node) {
	st := s.m.stats()
	info := &observe.Supervisor{
		Strategy:         s.cfg.kind.String(),
		MaxRestarts:      s.cfg.intensity,
		PeriodSecond:     s.cfg.period.Seconds(),
		RestartsInWindow: st.IntensityUsed,
		Restarts:         st.Restarts,
		GaveUp:           st.GaveUp,
		AutoShutdown:     s.cfg.auto.String(),
	}
	views, err := actor.Ask(ctx, s.self, func(r actor.Reply[[]childView]) command { return describeCmd{reply: r} })
	return func(n *observe.Node) { s.fill(n, info, views, err) }
}

func (s *sup) fill(n *observe.Node, info *observe.Supervisor, views []childView, err error) {
	n.Type = observe.TypeSupervisor
	n.Supervisor = info
	if err != nil {
		info.Unresponsive = true
		for i := range n.Children {
			info.Counts.Specs++
			if n.Children[i].Status == observe.StatusRunning {
				info.Counts.Active++
			}
			if n.Children[i].Kind == "supervisor" {
				info.Counts.Supervisors++
			} else {
				info.Counts.Workers++
			}
		}
		return
	}
	for _, v := range views {
		info.Counts.Specs++
		if v.status == strategy.Running {
			info.Counts.Active++
		}
		if v.kind == TypeSupervisor {
			info.Counts.Supervisors++
		} else {
			info.Counts.Workers++
		}
		for i := range n.Children {
			c := &n.Children[i]
			if c.Name != v.id {
				continue
			}
			c.Restart = v.restart.String()
			if v.kind == TypeSupervisor {
				c.Type = observe.TypeSupervisor
			}
			switch {
			case v.backoff:
				c.Status = observe.StatusBackoff
				t := v.next
				c.NextStart, c.BackoffAttempt = &t, v.delays
			case v.status == strategy.Down && c.Status != observe.StatusStopped:
				c.Status = observe.StatusDown
			case v.status == strategy.Restarting && c.Status != observe.StatusRunning:
				c.Status = observe.StatusRestarting
			}
		}
	}
}
