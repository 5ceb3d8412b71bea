package remote

import (
	"bytes"
	"errors"
	"testing"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/mailbox"
)

// batchSample is a batch of every shape: two types, a codec change, a
// request with a negative deadline, control messages between them.
func batchSample() []*envelope {
	return []*envelope{
		{Kind: kindWatch},
		{Kind: kindTell, Type: "test.Order", Codec: jsonID, Payload: []byte(`{"id":1}`), Seq: 1},
		{Kind: kindTell, Type: "test.Order", Codec: jsonID, Payload: []byte(`{"id":2}`), Seq: 2},
		{Kind: kindStop},
		{Kind: kindAsk, Type: "test.Place", Codec: jsonID, Payload: []byte(`{}`), Seq: 3, Corr: 7, Deadline: -5},
		{Kind: kindTell, Type: "test.Place", Codec: protoID, Seq: 4},
		{Kind: kindTell, Type: "", Codec: 0, Payload: []byte("x"), Seq: 5},
		{Kind: kindTell, Type: "test.Order", Codec: jsonID, Payload: []byte(`{"id":6}`), Seq: 1 << 40},
	}
}

func sameMessage(a, b *envelope) bool {
	return a.Kind == b.Kind && a.Type == b.Type && a.Codec == b.Codec && bytes.Equal(a.Payload, b.Payload) &&
		a.Seq == b.Seq && a.Corr == b.Corr && a.Deadline == b.Deadline && a.Sender == b.Sender && a.Node == b.Node
}

// from is e as a batch from sender on node delivers it.
func from(e *envelope, sender, node string) *envelope {
	return &envelope{Kind: e.Kind, Type: e.Type, Codec: e.Codec, Payload: e.Payload, Seq: e.Seq, Corr: e.Corr, Deadline: e.Deadline, Sender: sender, Node: node}
}

// TestBatchRoundTrip: a batch decodes to the messages it was made of,
// each with the envelope's sender and node, types inherited or not.
func TestBatchRoundTrip(t *testing.T) {
	in := batchSample()
	b := appendBatch(nil, in)
	out, rest, err := decodeBatch(b, "h-1", "127.0.0.1:1")
	if err != nil || rest != nil {
		t.Fatalf("decode: %v (rest %q)", err, rest)
	}
	if len(out) != len(in) {
		t.Fatalf("%d messages; want %d", len(out), len(in))
	}
	for i := range in {
		want := from(in[i], "h-1", "127.0.0.1:1")
		if !sameMessage(out[i], want) {
			t.Errorf("message %d: %+v; want %+v", i, out[i], want)
		}
	}
	// A type is named once for a run of messages of that type.
	if n := bytes.Count(b, []byte("test.Order")); n != 2 {
		t.Errorf("test.Order named %d times in the batch; want 2 (again after test.Place)", n)
	}
}

// TestBatchMalformed: every truncation of a batch decodes to the
// messages before the cut and an *UndecodableError matching errBadBatch
// whose rest is the tail of the input; it never panics.
func TestBatchMalformed(t *testing.T) {
	b := appendBatch(nil, batchSample())
	full, _, _ := decodeBatch(b, "", "")
	for cut := 1; cut < len(b); cut++ {
		out, rest, err := decodeBatch(b[:cut], "s", "n")
		if len(out) > len(full) {
			t.Fatalf("cut %d: %d messages of %d", cut, len(out), len(full))
		}
		for i := range out {
			want := from(full[i], "s", "n")
			if !sameMessage(out[i], want) {
				t.Fatalf("cut %d: message %d is %+v; want %+v", cut, i, out[i], want)
			}
		}
		if err == nil {
			continue // cut between two messages
		}
		var ue *UndecodableError
		if !errors.As(err, &ue) || !errors.Is(err, errBadBatch) || !bytes.HasSuffix(b[:cut], rest) || len(rest) == 0 {
			t.Fatalf("cut %d: %v, rest %q; want an *UndecodableError matching errBadBatch and the tail", cut, err, rest)
		}
	}
	// A number too large for its field.
	bad := append([]byte{0xff, 0xff, 0xff, 0xff, 0x7f}, 0, 1, 0)
	if _, _, err := decodeBatch(bad, "", ""); !errors.Is(err, errBadBatch) {
		t.Fatalf("kind over 32 bits: %v; want errBadBatch", err)
	}
}

// FuzzDecodeBatch: decoding arbitrary bytes as a batch never panics,
// every payload lies within the input, and what decodes encodes back to
// a batch that decodes the same. Seeds are in testdata/fuzz/FuzzDecodeBatch.
func FuzzDecodeBatch(f *testing.F) {
	f.Add(appendBatch(nil, batchSample()))
	f.Add(appendBatch(nil, batchSample()[1:3]))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		out, rest, err := decodeBatch(b, "s", "n")
		if err != nil && (!errors.Is(err, errBadBatch) || len(rest) == 0) {
			t.Fatalf("error %v, rest %d bytes", err, len(rest))
		}
		for _, e := range out {
			if len(e.Payload) > len(b) {
				t.Fatalf("payload of %d bytes from %d", len(e.Payload), len(b))
			}
		}
		again, rest2, err := decodeBatch(appendBatch(nil, out), "s", "n")
		if err != nil || rest2 != nil || len(again) != len(out) {
			t.Fatalf("re-encoded: %d messages, %v; want %d", len(again), err, len(out))
		}
		for i := range out {
			if !sameMessage(again[i], out[i]) {
				t.Fatalf("message %d: %+v re-encoded as %+v", i, out[i], again[i])
			}
		}
	})
}

// TestGatewayBatchMix: one batch with decodable and undecodable messages
// (an unknown type, bad bytes) is delivered in order, the undecodable ones
// dead-lettered on the receiver (DeadUndecodable) with their payload,
// every one acknowledged; a batch malformed after its first message
// delivers that one and dead-letters the rest; the handle stays up.
func TestGatewayBatchMix(t *testing.T) {
	ctx := deadline(t)
	n, dead, _ := shared(t)
	got := make(chan order, 16)
	ref, _ := actor.Spawn(n.System(), uniq(t, "sink"), func() actor.Actor[order] {
		return actor.Func[order](func(_ actor.Context, o order) error { got <- o; return nil })
	})
	if err := Expose(n, uniq(t, "sink"), ref); err != nil {
		t.Fatal(err)
	}
	h, err := Dial[order](n, n.Addr(), uniq(t, "sink"))
	if err != nil {
		t.Fatal(err)
	}
	// Sent on the handle's own sequence, as a peer's batch would be.
	sendBatch := func(items []*envelope, tail []byte) {
		h.h.mu.Lock()
		for _, e := range items {
			h.h.sent++
			e.Seq = h.h.sent
		}
		h.h.flushed = h.h.sent
		b := append(appendBatch(nil, items), tail...)
		n.pa.Root.Send(h.h.gw, &envelope{Kind: kindBatch, Sender: h.h.self.Id, Node: n.Addr(), Batch: b})
		h.h.mu.Unlock()
	}
	sendBatch([]*envelope{
		{Kind: kindTell, Type: "test.Order", Codec: jsonID, Payload: []byte(`{"id":1}`)},
		{Kind: kindTell, Type: "peer.Newer", Codec: jsonID, Payload: []byte(`{"x":1}`)},
		{Kind: kindTell, Type: "test.Order", Codec: jsonID, Payload: []byte(`{`)},
		{Kind: kindTell, Type: "test.Order", Codec: jsonID, Payload: []byte(`{"id":3}`)},
	}, nil)
	for _, want := range []int{1, 3} {
		select {
		case o := <-got:
			if o.ID != want {
				t.Fatalf("delivered %d; want %d", o.ID, want)
			}
		case <-ctx.Done():
			t.Fatalf("order %d not delivered", want)
		}
	}
	for _, want := range []struct{ typ, data string }{{"peer.Newer", `{"x":1}`}, {"test.Order", `{`}} {
		u := dead.next(ctx, t)
		for u.Name != uniq(t, "sink") {
			u = dead.next(ctx, t)
		}
		var ue *UndecodableError
		if u.Type != want.typ || string(u.Data) != want.data || !errors.As(u.Err, &ue) {
			t.Fatalf("dead letter %+v; want an *UndecodableError for %s with %q", u, want.typ, want.data)
		}
	}
	waitAcked(ctx, t, h)

	// Malformed after its first message: a length running past the end.
	sendBatch([]*envelope{{Kind: kindTell, Type: "test.Order", Codec: jsonID, Payload: []byte(`{"id":4}`)}}, []byte{byte(kindTell), 0, 9, 0x7f})
	select {
	case o := <-got:
		if o.ID != 4 {
			t.Fatalf("delivered %d; want 4", o.ID)
		}
	case <-ctx.Done():
		t.Fatal("the message before the fault was not delivered")
	}
	u := dead.next(ctx, t)
	for u.Name != uniq(t, "sink") {
		u = dead.next(ctx, t)
	}
	if !errors.Is(u.Err, errBadBatch) || !bytes.Equal(u.Data, []byte{byte(kindTell), 0, 9, 0x7f}) {
		t.Fatalf("dead letter %+v; want errBadBatch with the bytes from the fault", u)
	}
	waitAcked(ctx, t, h)
	// The stream still works.
	if err := h.Tell(ctx, order{ID: 5}); err != nil {
		t.Fatal(err)
	}
	if o := <-got; o.ID != 5 {
		t.Fatalf("delivered %d; want 5", o.ID)
	}
	select {
	case <-h.Done():
		t.Fatal("the handle went down")
	default:
	}
	h.Close()
}

// TestOrderAcrossDirectAndQueued: messages go to the mailbox on the
// gateway's actor while it has room and through the delivery goroutine
// once it is full (the actor is held), then directly again once it
// drained; their order is the sending order throughout.
func TestOrderAcrossDirectAndQueued(t *testing.T) {
	ctx := deadline(t)
	n, _, _ := shared(t)
	release := make(chan struct{})
	got := make(chan int, 1024)
	ref, err := actor.Spawn(n.System(), uniq(t, "seq"), func() actor.Actor[order] {
		return actor.Func[order](func(c actor.Context, o order) error {
			if o.ID == 10 {
				select { // held: the mailbox fills behind it
				case <-release:
				case <-c.Done():
				}
			}
			got <- o.ID
			return nil
		})
	}, actor.WithMailbox(8, mailbox.Block))
	if err != nil {
		t.Fatal(err)
	}
	if err := Expose(n, uniq(t, "seq"), ref); err != nil {
		t.Fatal(err)
	}
	h, err := Dial[order](n, n.Addr(), uniq(t, "seq"))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	const total = 600
	next := 0
	send := func(upTo int) {
		for ; next < upTo; next++ {
			if err := h.Tell(ctx, order{ID: next}); err != nil {
				t.Fatal(err)
			}
		}
	}
	send(200) // within the window: 10 handled, 8 in the mailbox, the rest queued on the gateway
	if h.Outstanding() == 0 {
		t.Fatal("everything acknowledged while the actor is held and its mailbox of 8 full")
	}
	close(release)
	send(total) // past the window: waits for credit as the queue drains
	for want := range total {
		select {
		case id := <-got:
			if id != want {
				t.Fatalf("handled %d; want %d", id, want)
			}
		case <-ctx.Done():
			t.Fatalf("handled up to %d of %d: %v", want, total, ctx.Err())
		}
	}
	waitAcked(ctx, t, h)
}
