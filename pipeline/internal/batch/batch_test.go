package batch

import (
	"errors"
	"reflect"
	"testing"
)

func TestPoolGetFreshBatch(t *testing.T) {
	p := &Pool[int]{Size: 8}
	b := p.Get()
	if len(b.Items) != 0 || cap(b.Items) != 8 {
		t.Fatalf("fresh batch: len %d cap %d; want 0, 8", len(b.Items), cap(b.Items))
	}
	if b.Kind != Data || b.Slot != nil || b.Next != 0 {
		t.Fatalf("fresh batch: kind %d slot %v next %d; want Data, nil, 0", b.Kind, b.Slot, b.Next)
	}
}

// TestResetClearsEverything: a recycled batch carries nothing of its
// previous use, item values included (they would be kept alive).
func TestResetClearsEverything(t *testing.T) {
	v := new(int)
	b := &Batch[*int]{Items: make([]Envelope[*int], 0, 4)}
	b.Items = append(b.Items, Envelope[*int]{Seq: 1, Item: v}, Envelope[*int]{Seq: 2, Item: v})
	b.Next, b.Attempts, b.LastErr = 1, 3, errors.New("x")
	b.Kind, b.Gen = Tick, 7
	b.OrderLo, b.OrderN, b.Ordered, b.Counted, b.Held = 5, 2, true, true, true
	b.OOB, b.Tail = true, true
	b.Slot, b.SendSeq = "slot 0", 9
	items := b.Items
	b.reset()
	if len(b.Items) != 0 || cap(b.Items) != 4 {
		t.Fatalf("after reset: len %d cap %d; want 0, 4 (the backing array is kept)", len(b.Items), cap(b.Items))
	}
	if items[:2][0].Item != nil || items[:2][1].Item != nil {
		t.Fatal("after reset the backing array still holds the items")
	}
	want := &Batch[*int]{Items: b.Items}
	if !reflect.DeepEqual(b, want) {
		t.Fatalf("after reset: %+v; want every field zero", b)
	}
}

func TestPutTwicePanics(t *testing.T) {
	p := &Pool[int]{Size: 4}
	b := p.Get()
	p.Put(b)
	defer func() {
		if recover() == nil {
			t.Fatal("a second Put of the same batch did not panic")
		}
	}()
	p.Put(b)
}

// TestGetClearsInPool: a batch taken out of the pool may be put back.
func TestGetClearsInPool(t *testing.T) {
	p := &Pool[int]{Size: 4}
	b := p.Get()
	p.Put(b)
	// sync.Pool may drop what it is given (it does at random under
	// -race), so Get until b comes back, or give up: a fresh batch each
	// time is allowed.
	for range 100 {
		c := p.Get()
		if c == b {
			p.Put(c) // must not panic
			return
		}
	}
	t.Skip("sync.Pool kept dropping the batch")
}

func TestPutIgnoresNilAndOversized(t *testing.T) {
	p := &Pool[int]{Size: 2}
	p.Put(nil)
	big := &Batch[int]{Items: make([]Envelope[int], 0, 9)}
	p.Put(big)
	if big.inPool.Load() {
		t.Fatal("a batch beyond 4×Size went into the pool")
	}
	p.Put(big) // not recycled, so not "recycled twice"
}

func TestRemaining(t *testing.T) {
	b := &Batch[string]{Items: []Envelope[string]{{1, "a"}, {2, "b"}, {3, "c"}}}
	for next, want := range []int{3, 2, 1, 0, 0} {
		b.Next = next
		if got := len(b.Remaining()); got != want {
			t.Errorf("Next %d: %d remaining; want %d", next, got, want)
		}
	}
	b.Next = 1
	if r := b.Remaining(); r[0].Seq != 2 || r[1].Item != "c" {
		t.Errorf("Remaining at 1 = %v; want items 2 and 3", r)
	}
}
