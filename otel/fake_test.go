package troupeotel_test

import (
	"context"
	"sync"

	"github.com/troupe-go/troupe/observe"
)

// fakeSource is an observe.Source with a fixed Snapshot and an event
// stream the test feeds.
type fakeSource struct {
	mu    sync.Mutex
	snap  observe.Snapshot
	calls int // Snapshot calls
	sub   *fakeSub
}

func newFakeSource(snap observe.Snapshot) *fakeSource {
	return &fakeSource{snap: snap, sub: &fakeSub{ch: make(chan observe.Event, 64)}}
}

func (f *fakeSource) Snapshot(ctx context.Context, opts observe.SnapshotOptions) observe.Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return f.snap
}

func (f *fakeSource) set(snap observe.Snapshot) {
	f.mu.Lock()
	f.snap = snap
	f.mu.Unlock()
}

func (f *fakeSource) snapshots() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *fakeSource) Subscribe(buffer int) observe.Subscription { return f.sub }

// send puts events on the stream.
func (f *fakeSource) send(evs ...observe.Event) {
	for _, e := range evs {
		f.sub.ch <- e
	}
}

type fakeSub struct {
	ch     chan observe.Event
	once   sync.Once
	mu     sync.Mutex
	closed bool
}

func (s *fakeSub) Events() <-chan observe.Event { return s.ch }
func (s *fakeSub) Dropped() uint64              { return 0 }
func (s *fakeSub) Close() {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.ch)
	})
}

func (s *fakeSub) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}
