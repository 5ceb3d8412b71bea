package remote

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/troupe-go/troupe/actor"
)

type (
	regA      struct{ A int }
	regB      struct{ B int }
	askNoRepl struct {
		R actor.Reply[regB] `json:"-"`
	}
)

func TestRegisterRules(t *testing.T) {
	if err := Register[regA]("test.regA"); err != nil {
		t.Fatal(err)
	}
	if err := Register[regA]("test.regA"); err != nil {
		t.Errorf("same type, same name again: %v; want nil", err)
	}
	if err := Register[regA]("test.regA2"); !errors.Is(err, ErrRegistered) {
		t.Errorf("same type, other name: %v; want ErrRegistered", err)
	}
	if err := Register[regB]("test.regA"); !errors.Is(err, ErrRegistered) {
		t.Errorf("other type, same name: %v; want ErrRegistered", err)
	}
	if err := Register[regA]("test.regA", WithCodec(Protobuf)); !errors.Is(err, ErrRegistered) {
		t.Errorf("same name, other codec: %v; want ErrRegistered", err)
	}
	if err := Register[regB](""); !errors.Is(err, ErrInvalidRegistration) {
		t.Errorf("empty name: %v; want ErrInvalidRegistration", err)
	}
	if err := Register[regB]("test.regB", WithCodec(zeroCodec{})); !errors.Is(err, ErrInvalidRegistration) {
		t.Errorf("codec ID 0: %v; want ErrInvalidRegistration", err)
	}
	if err := Register[regB]("test.regB", WithCodec(otherJSON{})); !errors.Is(err, ErrRegistered) {
		t.Errorf("a second codec with ID 1: %v; want ErrRegistered", err)
	}
	get := func(m askNoRepl) actor.Reply[regB] { return m.R }
	set := func(m *askNoRepl, r actor.Reply[regB]) { m.R = r }
	if err := RegisterAsk[askNoRepl, regB]("test.askNoRepl", get, set); !errors.Is(err, ErrUnregistered) {
		t.Errorf("RegisterAsk with an unregistered reply type: %v; want ErrUnregistered", err)
	}
	if err := RegisterAsk[askNoRepl, regB]("test.askNoRepl", nil, set); !errors.Is(err, ErrInvalidRegistration) {
		t.Errorf("RegisterAsk with nil get: %v; want ErrInvalidRegistration", err)
	}
}

type zeroCodec struct{ jsonCodec }

func (zeroCodec) ID() uint32 { return 0 }

type otherJSON struct{ jsonCodec }

func TestCodecsRoundTrip(t *testing.T) {
	if err := Register[*wrapperspb.StringValue]("test.StringValue"); err != nil {
		t.Fatal(err)
	}
	if e := lookupType(reflect.TypeFor[*wrapperspb.StringValue]()); e == nil || e.codec.ID() != protoID {
		t.Fatalf("a proto.Message type does not default to the protobuf codec: %+v", e)
	}
	for _, v := range []any{order{ID: 7, Sku: "x"}, wrapperspb.String("hello")} {
		e, err := encodeValue(v)
		if err != nil {
			t.Fatal(err)
		}
		// Through the wire format of the envelope itself.
		b, err := marshalEnvelope(e)
		if err != nil {
			t.Fatal(err)
		}
		e2, err := unmarshalEnvelope(b)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := decodeEnvelope(e2)
		if err != nil {
			t.Fatalf("decode %T: %v", v, err)
		}
		if pm, ok := v.(proto.Message); ok {
			if !proto.Equal(pm, got.(proto.Message)) {
				t.Errorf("round trip: %v; want %v", got, v)
			}
		} else if got != v {
			t.Errorf("round trip: %v; want %v", got, v)
		}
	}
	if _, err := encodeValue(unregistered{}); !errors.Is(err, ErrUnregistered) {
		t.Errorf("encode unregistered: %v; want ErrUnregistered", err)
	}
}

func TestEnvelopeIsAProtoMessage(t *testing.T) {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(envelopeName)
	if err != nil {
		t.Fatalf("%s is not in the protobuf registry: %v", envelopeName, err)
	}
	if _, ok := mt.New().Interface().(*envelope); !ok {
		t.Fatalf("registry type is %T", mt.New().Interface())
	}
	e := &envelope{Kind: kindAsk, Type: "t", Codec: 1, Payload: []byte{1, 2}, Corr: 9, Sender: "s", Node: "n", Seq: 3, Deadline: -4, Reason: 5, Err: "e"}
	b, err := marshalEnvelope(e)
	if err != nil {
		t.Fatal(err)
	}
	got, err := unmarshalEnvelope(b)
	if err != nil || !proto.Equal(got, e) {
		t.Fatalf("round trip: %v, %v; want %v", got, err, e)
	}
}

// panicCodec panics on decode, as a buggy user codec might.
type panicCodec struct{}

func (panicCodec) ID() uint32                         { return 99 }
func (panicCodec) Marshal(v any) ([]byte, error)      { return []byte("x"), nil }
func (panicCodec) Unmarshal(data []byte, v any) error { panic("codec bug") }

type panicky struct{ X int }

func TestDecodeNeverPanics(t *testing.T) {
	if err := Register[panicky]("test.panicky", WithCodec(panicCodec{})); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		e    *envelope
		want string
	}{
		{"unknown name", &envelope{Type: "no.such", Codec: 1}, "not registered"},
		{"codec mismatch", &envelope{Type: "test.Order", Codec: 2, Payload: []byte("{}")}, "codec 1"},
		{"bad bytes", &envelope{Type: "test.Order", Codec: 1, Payload: []byte("{")}, "unexpected end"},
		{"codec panics", &envelope{Type: "test.panicky", Codec: 99}, "panicked"},
	} {
		_, _, err := decodeEnvelope(c.e)
		var ue *UndecodableError
		if !errors.As(err, &ue) || ue.Type != c.e.Type || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want an *UndecodableError for %q mentioning %q", c.name, err, c.e.Type, c.want)
		}
	}
}

// TestUndecodableDeadLettered: a message the receiving node cannot decode
// is dead-lettered there with its type name; the gateway keeps serving
// (the next good message arrives) and acknowledges it.
func TestUndecodableDeadLettered(t *testing.T) {
	ctx := deadline(t)
	n, dead, _ := shared(t)
	got := make(chan order, 1)
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
	// A peer that registered a type this node does not know, sent on the
	// handle's own sequence so that the gateway acknowledges it.
	h.h.mu.Lock()
	h.h.sent++
	bad := &envelope{Kind: kindTell, Type: "peer.Newer", Codec: 1, Payload: []byte(`{"x":1}`), Sender: h.h.self.Id, Node: n.Addr(), Seq: h.h.sent}
	n.pa.Root.Send(h.h.gw, bad)
	h.h.mu.Unlock()
	u := dead.next(ctx, t)
	for u.Name != uniq(t, "sink") {
		u = dead.next(ctx, t)
	}
	var ue *UndecodableError
	if u.Type != "peer.Newer" || !errors.As(u.Err, &ue) || !errors.Is(u.Err, ErrUnregistered) || string(u.Data) != `{"x":1}` || u.Name != uniq(t, "sink") {
		t.Fatalf("dead letter: %+v; want the type name, an *UndecodableError matching ErrUnregistered, the payload", u)
	}
	if err := h.Tell(ctx, order{ID: 1}); err != nil {
		t.Fatal(err)
	}
	select {
	case o := <-got:
		if o.ID != 1 {
			t.Fatalf("got %v", o)
		}
	case <-ctx.Done():
		t.Fatal("the gateway stopped serving after an undecodable message")
	}
	waitAcked(ctx, t, h)
	select {
	case <-h.Done():
		t.Fatal("the handle went down")
	default:
	}
}

// FuzzDecode feeds arbitrary bytes to what a gateway does with a message
// from the wire: unmarshal the envelope, look its type up, decode it. It
// must never panic; seeds are in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	for _, v := range []any{order{ID: 1, Sku: "a"}, orderAck{ID: 2}, command{Do: "normal"}} {
		e, err := encodeValue(v)
		if err != nil {
			f.Fatal(err)
		}
		e.Kind = kindTell
		b, _ := marshalEnvelope(e)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := unmarshalEnvelope(b)
		if err != nil {
			return
		}
		v, ent, err := decodeEnvelope(e)
		if err != nil {
			var ue *UndecodableError
			if !errors.As(err, &ue) || ue.Type != e.Type {
				t.Fatalf("decode error %v is not an *UndecodableError naming %q", err, e.Type)
			}
			return
		}
		// A decoded value is of the type registered under its name.
		if ent == nil || ent.name != e.Type || reflect.TypeOf(v) != ent.typ {
			t.Fatalf("decoded %T under %q; entry %+v", v, e.Type, ent)
		}
	})
}
