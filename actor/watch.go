package actor

// watcher is one registration of PID.Watch.
type watcher struct {
	fn func(Terminated)
}

// Watch implements PID.
func (p *proc[M]) Watch(fn func(Terminated)) (unwatch func()) {
	if fn == nil {
		return func() {}
	}
	w := &watcher{fn: fn}
	p.mu.Lock()
	if p.state == stClosed {
		t := p.r().final
		p.mu.Unlock()
		fn(t)
		return func() {}
	}
	r := p.r()
	r.watchers = append(r.watchers, w)
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		for i, x := range r.watchers {
			if x == w {
				r.watchers = append(r.watchers[:i], r.watchers[i+1:]...)
				return
			}
		}
	}
}

// Watch returns a channel that receives one Terminated when the actor
// behind pid stops for good, and a function that cancels the watch. The
// channel has room for the notification, so nobody blocks on it.
func Watch(pid PID) (<-chan Terminated, func()) {
	ch := make(chan Terminated, 1)
	if pid == nil {
		close(ch)
		return ch, func() {}
	}
	return ch, pid.Watch(func(t Terminated) { ch <- t })
}

// WatchWith makes the actor self receive conv(t) as a message when the
// actor behind pid stops for good. The notification bypasses self's
// mailbox bound: it is delivered through the system lane, ahead of queued
// messages, so it is never lost to backpressure.
func WatchWith[M any](self Ref[M], pid PID, conv func(Terminated) M) (unwatch func()) {
	if self.p == nil || pid == nil || conv == nil {
		return func() {}
	}
	return pid.Watch(func(t Terminated) { _ = self.Urgent(conv(t)) })
}
