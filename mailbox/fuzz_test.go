package mailbox_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/troupe-go/troupe/mailbox"
)

// A fuzz program is a header of four bytes followed by one byte per
// operation, all on one Queue[tagged] and one goroutine:
//
//	data[0] % 9     capacity (0 = unbounded)
//	data[1] % 4     policy
//	data[2] % 10    high watermark (0 = off)
//	data[3] % high  low watermark
//
//	00xxxxss, 01xxxxss  TryPush from sender ss with its next sequence number
//	10nnnnnn            PopBatch(nnnnnn % 10) (0 = all); nnnnnn = 63: PopOne
//	11nnnnnn            Close if nnnnnn < 4, else compare Stats
const (
	opPush   = 0x00
	opPop    = 0x80
	opPopOne = 0xBF
	opClose  = 0xC0
	opStats  = 0xC4
)

// queueModel is the obvious, slow queue the real one must agree with.
type queueModel struct {
	cfg    mailbox.Config
	items  []tagged
	closed bool
	st     mailbox.Stats
	above  bool
	events []mailbox.Watermark
}

func (m *queueModel) afterPush() {
	if h := m.cfg.High; h > 0 && !m.above && len(m.items) >= h {
		m.above = true
		m.events = append(m.events, mailbox.High)
	}
}

// push returns what TryPush must return.
func (m *queueModel) push(it tagged) (dropped tagged, wasDropped bool, err error) {
	switch {
	case m.closed:
		return tagged{}, false, mailbox.ErrClosed
	case m.cfg.Capacity == 0 || len(m.items) < m.cfg.Capacity:
		m.items = append(m.items, it)
		m.st.Enqueued++
		m.afterPush()
		return tagged{}, false, nil
	}
	switch m.cfg.Policy {
	case mailbox.DropNewest:
		m.st.Enqueued++
		m.st.DroppedNewest++
		return it, true, nil
	case mailbox.DropOldest:
		old := m.items[0]
		m.items = append(m.items[1:], it)
		m.st.Enqueued++
		m.st.DroppedOldest++
		m.afterPush()
		return old, true, nil
	default: // Block (TryPush does not wait) and Reject
		m.st.Rejected++
		return tagged{}, false, mailbox.ErrFull
	}
}

func (m *queueModel) pop(max int) []tagged {
	k := len(m.items)
	if max > 0 && k > max {
		k = max
	}
	out := slices.Clone(m.items[:k])
	m.items = m.items[k:]
	m.st.Dequeued += uint64(k)
	if k > 0 && m.above && len(m.items) <= m.cfg.Low {
		m.above = false
		m.events = append(m.events, mailbox.Low)
	}
	return out
}

func (m *queueModel) close() []tagged {
	if m.closed {
		return nil
	}
	m.closed = true
	out := m.items
	m.items = nil
	m.st.Drained += uint64(len(out))
	return out
}

func (m *queueModel) stats() mailbox.Stats {
	s := m.st
	s.Len = len(m.items)
	s.Capacity = m.cfg.Capacity
	return s
}

// program assembles a fuzz program from a header and ops.
func program(capacity int, policy mailbox.Policy, high, low int, ops ...byte) []byte {
	return append([]byte{byte(capacity), byte(policy), byte(high), byte(low)}, ops...)
}

// repeat returns n copies of ops.
func repeat(n int, ops ...byte) []byte {
	var out []byte
	for range n {
		out = append(out, ops...)
	}
	return out
}

// FuzzQueue runs fuzz programs (see above) on a Queue and on a model of
// it and compares their results, operation by operation. An input that
// finds a bug is kept as go test -fuzz wrote it, under
// testdata/fuzz/FuzzQueue, and committed with the fix, so plain go test
// replays it.
func FuzzQueue(f *testing.F) {
	pushes := []byte{opPush | 0, opPush | 1, opPush | 2, opPush | 3}
	f.Add(program(0, mailbox.Block, 0, 0, append(repeat(20, pushes...), opPop|3, opPop|0, opStats)...))
	f.Add(program(3, mailbox.Block, 0, 0, append(repeat(3, pushes...), opPop|1, opPush|2, opPush|2, opStats, opPop|0)...))
	f.Add(program(3, mailbox.Reject, 2, 1, append(repeat(2, pushes...), opPop|2, opPush|1, opPopOne, opPop|0, opStats)...))
	f.Add(program(2, mailbox.DropNewest, 2, 0, append(repeat(3, pushes...), opPop|1, opPush|3, opStats)...))
	f.Add(program(4, mailbox.DropOldest, 3, 1, append(repeat(4, pushes...), opPop|3, opPush|0, opPush|0, opPopOne, opStats)...))
	f.Add(program(1, mailbox.DropOldest, 1, 0, append(repeat(3, pushes...), opPopOne, opPopOne, opStats)...))
	f.Add(program(5, mailbox.Block, 4, 2, append(repeat(2, pushes...), opPop|1, opClose, opPush|1, opPop|0, opClose, opStats)...))
	f.Add(program(0, mailbox.Reject, 9, 3, append(repeat(40, opPush|1, opPush|2, opPop|1), opClose)...))
	f.Add(program(8, mailbox.DropOldest, 0, 0, append(repeat(30, opPush|0, opPush|3, opPush|1, opPopOne), opStats)...))

	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 4 || len(data) > 4096 {
			t.Skip()
		}
		cfg := mailbox.Config{
			Capacity: int(data[0] % 9),
			Policy:   mailbox.Policy(data[1] % 4),
			High:     int(data[2] % 10),
		}
		if cfg.High > 0 {
			cfg.Low = int(data[3]) % cfg.High
		}
		var events []mailbox.Watermark
		cfg.OnWatermark = func(w mailbox.Watermark) { events = append(events, w) }
		q, err := mailbox.NewQueue[tagged](&cfg)
		if err != nil {
			t.Fatalf("NewQueue(%+v): got %v; want nil", cfg, err)
		}
		model := &queueModel{cfg: cfg}

		var (
			nextSeq  [4]int
			accepted = map[tagged]bool{}
			fates    = map[tagged][]string{} // how each accepted item left the queue
			lastOut  = [4]int{-1, -1, -1, -1}
			closedAt = -1 // events compared only up to Close; what Close reports is not specified
		)
		leave := func(op int, how string, items ...tagged) {
			for _, it := range items {
				if !accepted[it] {
					t.Fatalf("op %d: %s item %v that was never accepted", op, how, it)
				}
				fates[it] = append(fates[it], how)
				if len(fates[it]) > 1 {
					t.Fatalf("op %d: item %v left the queue twice: %v", op, it, fates[it])
				}
				if how != "dropped" { // drops may skip ahead of the sender's queued items
					if it.seq <= lastOut[it.sender] {
						t.Fatalf("op %d: sender %d: seq %d came out after seq %d", op, it.sender, it.seq, lastOut[it.sender])
					}
					lastOut[it.sender] = it.seq
				}
			}
		}
		desc := fmt.Sprintf("capacity %d, %v, high %d, low %d", cfg.Capacity, cfg.Policy, cfg.High, cfg.Low)

		for i, op := range data[4:] {
			switch {
			case op < 0x80: // push
				s := int(op & 3)
				it := tagged{s, nextSeq[s]}
				nextSeq[s]++
				wantDropped, wantWas, wantErr := model.push(it)
				dropped, was, err := q.TryPush(it)
				if !errors.Is(err, wantErr) || (wantErr == nil && err != nil) {
					t.Fatalf("op %d (%s): TryPush(%v): got err %v; want %v", i, desc, it, err, wantErr)
				}
				if dropped != wantDropped || was != wantWas {
					t.Fatalf("op %d (%s): TryPush(%v): got dropped (%v, %v); want (%v, %v)", i, desc, it, dropped, was, wantDropped, wantWas)
				}
				if err == nil {
					accepted[it] = true
				}
				if was {
					leave(i, "dropped", dropped)
				}
			case op == opPopOne:
				want := model.pop(1)
				m, ok := q.PopOne()
				if ok != (len(want) == 1) || (ok && m != want[0]) {
					t.Fatalf("op %d (%s): PopOne(): got (%v, %v); want %v", i, desc, m, ok, want)
				}
				if ok {
					leave(i, "popped", m)
				}
			case op < 0xC0: // PopBatch
				n := int(op&0x3f) % 10
				want := model.pop(n)
				sentinel := tagged{-1, -1}
				got := q.PopBatch([]tagged{sentinel}, n)
				if got[0] != sentinel || !slices.Equal(got[1:], want) {
					t.Fatalf("op %d (%s): PopBatch([sentinel], %d): got %v; want %v", i, desc, n, got, append([]tagged{sentinel}, want...))
				}
				leave(i, "popped", got[1:]...)
			case op < opStats: // Close
				want := model.close()
				got := q.Close()
				if !slices.Equal(got, want) {
					t.Fatalf("op %d (%s): Close(): got %v; want %v", i, desc, got, want)
				}
				if !q.Closed() {
					t.Fatalf("op %d (%s): Closed() after Close: got false; want true", i, desc)
				}
				leave(i, "drained", got...)
				if closedAt < 0 {
					closedAt = len(events)
				}
			default:
				if got, want := q.Stats(), model.stats(); got != want {
					t.Fatalf("op %d (%s): Stats(): got %+v; want %+v", i, desc, got, want)
				}
			}
			if got, want := q.Len(), len(model.items); got != want {
				t.Fatalf("op %d (%s): Len(): got %v; want %v", i, desc, got, want)
			}
			if closedAt < 0 && !slices.Equal(events, model.events) {
				t.Fatalf("op %d (%s): watermarks: got %v; want %v", i, desc, events, model.events)
			}
		}

		s := q.Stats()
		if want := model.stats(); s != want {
			t.Fatalf("final Stats() (%s): got %+v; want %+v", desc, s, want)
		}
		conserved(t, s)
		if closedAt >= 0 && !slices.Equal(events[:closedAt], model.events) {
			t.Fatalf("watermarks before Close (%s): got %v; want %v", desc, events[:closedAt], model.events)
		}
		// No loss: everything accepted either left the queue exactly once
		// or is still in it, and then a final Close hands it back.
		leave(-1, "drained", q.Close()...)
		for it := range accepted {
			if len(fates[it]) != 1 {
				t.Fatalf("item %v (%s): accepted but never popped, dropped or drained", it, desc)
			}
		}
	})
}
