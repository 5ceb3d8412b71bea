package pipeline

import (
	"fmt"
	"sync"
	"time"
)

// DeadLetterReason says why an item was dead-lettered.
type DeadLetterReason uint8

const (
	// DeadPoison means the item failed on every attempt (see WithRetry).
	DeadPoison DeadLetterReason = iota + 1
	// DeadStopped means the pipeline stopped (cancelled, failed, or a
	// drain timed out) while the item was inside it.
	DeadStopped
	// DeadDropped means a stage with a drop policy (WithOverflow)
	// discarded it, as actor.DeadDropped for a mailbox.
	DeadDropped
	// DeadTimeout means its last attempt ran past the stage's WithTimeout.
	DeadTimeout
)

// String returns "poison", "stopped", "dropped" or "timeout": the names
// of the troupe.deadletter.reason attribute.
func (r DeadLetterReason) String() string {
	switch r {
	case DeadPoison:
		return "poison"
	case DeadStopped:
		return "stopped"
	case DeadDropped:
		return "dropped"
	case DeadTimeout:
		return "timeout"
	}
	return fmt.Sprintf("DeadLetterReason(%d)", uint8(r))
}

// A DeadLetter is an item the pipeline could not deliver, with the stage
// it was in and why. Item holds the stage's input item (of the stage's
// input type).
type DeadLetter struct {
	// ID is unique within the pipeline, increasing in dead-letter order.
	ID    uint64
	Stage string
	Item  any
	// Seq is the item's sequence number from its source.
	Seq      uint64
	Reason   DeadLetterReason
	Attempts int
	// Err is the last failure (a *actor.PanicError for a panic), nil for
	// DeadStopped and DeadDropped.
	Err  error
	Time time.Time
}

// A DeadLetterStore keeps dead letters. The pipeline calls Add from its
// workers, so Add must be safe for concurrent use and must not block for
// long; List and Take are called by users and by Pipeline.Replay.
type DeadLetterStore interface {
	// Add stores d.
	Add(d DeadLetter)
	// List returns the stored entries for which keep returns true (all
	// of them if keep is nil), oldest first.
	List(keep func(DeadLetter) bool) []DeadLetter
	// Take removes and returns the entries for which keep returns true
	// (all of them if keep is nil), oldest first.
	Take(keep func(DeadLetter) bool) []DeadLetter
}

// A MemoryStore is a bounded in-memory DeadLetterStore: when it is full,
// Add evicts the oldest entry and counts it. It is safe for concurrent
// use. Build one with NewMemoryStore.
type MemoryStore struct {
	mu      sync.Mutex // guards everything below
	buf     []DeadLetter
	head, n int
	evicted uint64
}

var _ DeadLetterStore = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store holding at most capacity entries
// (at least 1).
func NewMemoryStore(capacity int) *MemoryStore {
	return &MemoryStore{buf: make([]DeadLetter, max(capacity, 1))}
}

// Add stores d, evicting the oldest entry if the store is full.
func (m *MemoryStore) Add(d DeadLetter) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.n == len(m.buf) {
		m.buf[m.head] = DeadLetter{}
		m.head = (m.head + 1) % len(m.buf)
		m.n--
		m.evicted++
	}
	m.buf[(m.head+m.n)%len(m.buf)] = d
	m.n++
}

// List returns the entries keep accepts (all if keep is nil), oldest first.
func (m *MemoryStore) List(keep func(DeadLetter) bool) []DeadLetter {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []DeadLetter
	for i := range m.n {
		d := m.buf[(m.head+i)%len(m.buf)]
		if keep == nil || keep(d) {
			out = append(out, d)
		}
	}
	return out
}

// Take removes and returns the entries keep accepts (all if keep is nil),
// oldest first.
func (m *MemoryStore) Take(keep func(DeadLetter) bool) []DeadLetter {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []DeadLetter
	kept := 0
	for i := range m.n {
		j := (m.head + i) % len(m.buf)
		d := m.buf[j]
		m.buf[j] = DeadLetter{}
		if keep == nil || keep(d) {
			out = append(out, d)
			continue
		}
		m.buf[(m.head+kept)%len(m.buf)] = d
		kept++
	}
	m.n = kept
	return out
}

// Len returns the number of stored entries.
func (m *MemoryStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n
}

// Evicted returns how many entries Add evicted to make room.
func (m *MemoryStore) Evicted() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.evicted
}
