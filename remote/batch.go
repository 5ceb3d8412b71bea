package remote

import (
	"errors"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// A batch is what a handle's send loop puts in one envelope (kind batch,
// its batch field) when several messages queued up while it sent the
// last: the messages one after the other, each
//
//	kind     varint
//	flags    varint: flagType, flagCorr, flagDeadline
//	seq      varint
//	type     varint length, bytes; then codec, varint  (with flagType)
//	corr     varint                                    (with flagCorr)
//	deadline zigzag varint                             (with flagDeadline)
//	payload  varint length, bytes
//
// A message (a Tell or an Ask) without flagType has the type and codec of
// the message before it in the batch; so a stream of one type names it
// once per batch. Every message has the envelope's sender and node. The
// encoding is troupe's own (protoactor sees one bytes field) because
// decoding it costs a fraction of a nested protobuf message per item.
const (
	flagType = 1 << iota
	flagCorr
	flagDeadline
)

// errBadBatch is the cause of an *UndecodableError for a batch that ends
// in the middle of a message or holds a number too large for its field.
var errBadBatch = errors.New("remote: malformed batch")

// carriesType reports whether the messages of a kind inherit the type of
// the message before them in a batch.
func carriesType(kind uint32) bool { return kind == kindTell || kind == kindAsk }

// appendBatch appends the batch encoding of es to b.
func appendBatch(b []byte, es []*envelope) []byte {
	var typ string
	var codec uint32
	have := false
	for _, e := range es {
		var f uint64
		if carriesType(e.Kind) {
			if !have || e.Type != typ || e.Codec != codec {
				f |= flagType
				typ, codec, have = e.Type, e.Codec, true
			}
		} else if e.Type != "" || e.Codec != 0 {
			f |= flagType
		}
		if e.Corr != 0 {
			f |= flagCorr
		}
		if e.Deadline != 0 {
			f |= flagDeadline
		}
		b = protowire.AppendVarint(b, uint64(e.Kind))
		b = protowire.AppendVarint(b, f)
		b = protowire.AppendVarint(b, e.Seq)
		if f&flagType != 0 {
			b = protowire.AppendString(b, e.Type)
			b = protowire.AppendVarint(b, uint64(e.Codec))
		}
		if f&flagCorr != 0 {
			b = protowire.AppendVarint(b, e.Corr)
		}
		if f&flagDeadline != 0 {
			b = protowire.AppendVarint(b, protowire.EncodeZigZag(e.Deadline))
		}
		b = protowire.AppendBytes(b, e.Payload)
	}
	return b
}

// batchReader decodes a batch one message at a time.
type batchReader struct {
	b     []byte
	typ   string // of the last Tell or Ask
	codec uint32
	have  bool
}

func (r *batchReader) varint() (uint64, bool) {
	v, n := protowire.ConsumeVarint(r.b)
	if n < 0 {
		return 0, false
	}
	r.b = r.b[n:]
	return v, true
}

func (r *batchReader) u32() (uint32, bool) {
	v, ok := r.varint()
	if !ok || v > math.MaxUint32 {
		return 0, false
	}
	return uint32(v), true
}

func (r *batchReader) bytes() ([]byte, bool) {
	v, n := protowire.ConsumeBytes(r.b)
	if n < 0 {
		return nil, false
	}
	r.b = r.b[n:]
	return v, true
}

// next decodes the next message into e (its payload aliases the batch).
func (r *batchReader) next(e *envelope) bool {
	var f uint64
	var ok bool
	if e.Kind, ok = r.u32(); !ok {
		return false
	}
	if f, ok = r.varint(); !ok {
		return false
	}
	if e.Seq, ok = r.varint(); !ok {
		return false
	}
	switch {
	case f&flagType != 0:
		t, ok := r.bytes()
		if !ok {
			return false
		}
		if e.Codec, ok = r.u32(); !ok {
			return false
		}
		if carriesType(e.Kind) && r.have && string(t) == r.typ {
			e.Type = r.typ // one string for the batch
		} else {
			e.Type = string(t)
		}
		if carriesType(e.Kind) {
			r.typ, r.codec, r.have = e.Type, e.Codec, true
		}
	case carriesType(e.Kind):
		e.Type, e.Codec = r.typ, r.codec
	}
	if f&flagCorr != 0 {
		if e.Corr, ok = r.varint(); !ok {
			return false
		}
	}
	if f&flagDeadline != 0 {
		v, ok := r.varint()
		if !ok {
			return false
		}
		e.Deadline = protowire.DecodeZigZag(v)
	}
	p, ok := r.bytes()
	if !ok {
		return false
	}
	if len(p) > 0 {
		e.Payload = p[:len(p):len(p)]
	}
	return true
}

// decodeBatch decodes the batch b of the handle sender on node. It never
// panics: a malformed batch gives the messages before the fault and an
// *UndecodableError matching errBadBatch (with the bytes from the fault
// on).
func decodeBatch(b []byte, sender, node string) ([]*envelope, []byte, error) {
	// Count, then decode into one allocation.
	r := batchReader{b: b}
	n := 0
	var scratch envelope
	for len(r.b) > 0 && r.next(&scratch) {
		n++
	}
	es := make([]envelope, n)
	out := make([]*envelope, n)
	r = batchReader{b: b}
	for i := range es {
		e := &es[i]
		r.next(e)
		e.Sender, e.Node = sender, node
		out[i] = e
	}
	if len(r.b) > 0 {
		return out, r.b, &UndecodableError{Err: errBadBatch}
	}
	return out, nil, nil
}
