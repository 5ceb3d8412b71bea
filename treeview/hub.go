package treeview

import (
	"sync"
	"time"

	"github.com/troupe-go/troupe/observe"
)

// A hub keeps the event tail of a handler, from one subscription to the
// Source that exists only while someone watches.
//
// Who reads the subscription. Exactly one goroutine at a time receives
// from sub.Events(), so the tail keeps the Source's order: the pump, one
// of the connected /events streams (its request goroutine), chosen under
// mu by whoever finds the role free. Other streams wait on wake, which
// the pump closes (and replaces) after it recorded events. A request that
// is not a stream drains the channel without blocking, under mu, and only
// when there is no pump. The rejected alternative, a goroutine of the
// hub reading the subscription, would outlive the requests it serves and
// need a Close nobody would call.
//
// When it is open. A stream holds the subscription while it is connected
// (streams > 0); any other request holds it for a lease, until "until",
// after which the timer closes it unless a stream is connected. A stream
// that leaves after the lease ran out closes it. Closing forgets the tail;
// Seq keeps counting so a resuming stream never sees a number twice.
//
// When the Source ends the subscription (its System shut down), the
// channel closes: sub becomes nil, the waiting streams are woken and end.
type hub struct {
	src  observe.Source
	size int // tail capacity; 0: events are off
	// buf is the subscription's buffer: larger than the tail, so that
	// between two polls it is the oldest events that fall out of the
	// tail, not the newest that the Source drops.
	buf int

	mu      sync.Mutex
	sub     observe.Subscription // guarded by mu; nil when nobody watches or the Source ended it
	streams int                  // guarded by mu; connected /events streams
	until   time.Time            // guarded by mu; end of the lease of non-stream requests
	timer   *time.Timer          // guarded by mu; runs expire at until; nil when sub is
	ring    []TailEvent          // guarded by mu; the tail, a circular buffer of size entries
	start   int                  // guarded by mu; index of the oldest entry of ring
	n       int                  // guarded by mu; entries in ring
	seq     uint64               // guarded by mu; Seq of the newest event recorded
	pump    *stream              // guarded by mu; the stream reading sub, nil if none
	wake    chan struct{}        // guarded by mu; closed and replaced when the tail grows or the pump leaves
}

// A stream is one /events client; its identity is its pointer.
type stream struct{ _ byte }

func newHub(src observe.Source, size int) *hub {
	return &hub{src: src, size: size, buf: max(2*size, 256), wake: make(chan struct{})}
}

// openLocked subscribes if nobody does yet.
func (h *hub) openLocked() {
	if h.sub == nil && h.src != nil {
		h.sub = h.src.Subscribe(h.buf)
		if h.ring == nil {
			h.ring = make([]TailEvent, h.size)
		}
	}
}

// closeLocked ends the subscription and forgets the tail.
func (h *hub) closeLocked() {
	if h.sub != nil {
		h.sub.Close()
		h.sub = nil
	}
	if h.timer != nil {
		h.timer.Stop()
		h.timer = nil
	}
	h.start, h.n = 0, 0
	clear(h.ring)
}

// endedLocked handles the end of the subscription by the Source.
func (h *hub) endedLocked() {
	h.sub.Close()
	h.sub = nil
	h.broadcastLocked()
}

func (h *hub) broadcastLocked() {
	close(h.wake)
	h.wake = make(chan struct{})
}

func (h *hub) recordLocked(e observe.Event) {
	h.seq++
	te := TailEvent{Seq: h.seq, Event: e}
	if h.n < h.size {
		h.ring[(h.start+h.n)%h.size] = te
		h.n++
		return
	}
	h.ring[h.start] = te
	h.start = (h.start + 1) % h.size
}

// drainLocked records what the subscription holds, without waiting, and
// at most a buffer's worth: a flood of events does not keep it here.
func (h *hub) drainLocked() {
	if h.sub == nil {
		return
	}
	ch := h.sub.Events()
	grew := false
	defer func() {
		if grew {
			h.broadcastLocked()
		}
	}()
	for range h.buf {
		select {
		case e, ok := <-ch:
			if !ok {
				h.endedLocked()
				return
			}
			h.recordLocked(e)
			grew = true
		default:
			return
		}
	}
}

// sinceLocked returns a copy of the entries of the tail after seq.
func (h *hub) sinceLocked(seq uint64) []TailEvent {
	var out []TailEvent
	for i := range h.n {
		if te := h.ring[(h.start+i)%h.size]; te.Seq > seq {
			out = append(out, te)
		}
	}
	return out
}

// touch is a request that is not a stream: it opens the subscription if
// needed, extends the lease, and returns a copy of the tail.
func (h *hub) touch() []TailEvent {
	if h.size == 0 {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.openLocked()
	if h.sub == nil {
		return h.sinceLocked(0)
	}
	h.until = time.Now().Add(lease)
	if h.timer == nil {
		// Owner: the runtime's timer; expire runs once per lease on its
		// own short-lived goroutine and takes only mu. closeLocked stops it.
		h.timer = time.AfterFunc(lease, h.expire)
	} else {
		h.timer.Reset(lease)
	}
	if h.pump == nil {
		h.drainLocked()
	}
	return h.sinceLocked(0)
}

// expire closes the subscription when the lease has run out and no
// stream is connected.
func (h *hub) expire() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.streams == 0 && !time.Now().Before(h.until) {
		h.closeLocked()
	}
}

// join adds a stream that has seen the events up to seq (its
// Last-Event-ID) and returns the seq to resume after: 0 when seq is
// ahead of this handler's count, from a client of an earlier process.
func (h *hub) join(seq uint64) uint64 {
	if h.size == 0 {
		return 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.openLocked()
	h.streams++
	if seq > h.seq {
		return 0
	}
	return seq
}

// leave removes a stream that joined; the pump role passes on.
func (h *hub) leave(s *stream) {
	if h.size == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.streams--
	if h.pump == s {
		h.pump = nil
		h.broadcastLocked()
	}
	if h.streams == 0 && !time.Now().Before(h.until) {
		h.closeLocked()
	}
}

// next returns what stream s has to send after seq, the channel it is to
// receive events on (non-nil only for the pump), the channel that says
// the tail grew or the pump left, and whether the events ended.
func (h *hub) next(s *stream, seq uint64) (evs []TailEvent, ch <-chan observe.Event, wake <-chan struct{}, ended bool) {
	if h.size == 0 {
		return nil, nil, nil, false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pump == nil && h.sub != nil {
		h.pump = s
	}
	if h.pump == s {
		h.drainLocked()
		if h.sub != nil {
			ch = h.sub.Events()
		}
	}
	return h.sinceLocked(seq), ch, h.wake, h.sub == nil
}

// got records e, received by the pump (ok false: the channel closed),
// with whatever followed it.
func (h *hub) got(e observe.Event, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sub == nil {
		return
	}
	if !ok {
		h.endedLocked()
		return
	}
	h.recordLocked(e)
	h.drainLocked()
	h.broadcastLocked()
}
