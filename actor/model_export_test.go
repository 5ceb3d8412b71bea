package actor

import "fmt"

// DebugState describes the runtime state of the actor behind pid, for
// TestModel's failure messages.
func DebugState(pid PID) string {
	type dbg interface{ debug() string }
	return pid.(dbg).debug()
}

func (p *proc[M]) debug() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := fmt.Sprintf("state=%d gen=%d susp=%v hasSys=%v len=%d hasCur=%v", p.state, p.gen, p.mb.Suspended(), p.mb.HasSystem(), p.mb.Len(), p.hasCur)
	if inc := p.inc.Load(); inc != nil {
		s += fmt.Sprintf(" inc gen=%d phase=%d end=%d abort=%v", inc.gen, inc.phase.Load(), inc.end, inc.abort.Load())
	}
	return s
}

// DebugOrphan reports whether the actor behind pid has an incarnation,
// work queued and no goroutine in its user code, and describes it. At a
// quiescent point (every goroutine blocked) that means nobody will ever
// run its mailbox.
func DebugOrphan(pid PID) (bool, string) {
	type dbg interface{ orphan() (bool, string) }
	return pid.(dbg).orphan()
}

func (p *proc[M]) orphan() (bool, string) {
	p.mu.Lock()
	inc := p.inc.Load()
	st := p.state
	p.mu.Unlock()
	if inc == nil || st != stRunning {
		return false, ""
	}
	work := p.mb.HasSystem() || p.mb.Len() > 0
	if !work {
		return false, ""
	}
	if inc.phase.Load()&phMask != phRuntime {
		return false, ""
	}
	return true, p.debug()
}
