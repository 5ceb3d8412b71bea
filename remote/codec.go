package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"sync"
	"sync/atomic"

	"google.golang.org/protobuf/proto"

	"github.com/troupe-go/troupe/actor"
)

// A Codec turns values of registered types into bytes and back. Its ID is
// written on the wire with every message, so it must be the same on every
// node and never reused for another encoding: 1 is [JSON], 2 is [Protobuf];
// IDs from 16 up are for other codecs.
type Codec interface {
	// ID identifies the codec on the wire (not 0).
	ID() uint32
	// Marshal encodes v, a value of a registered type.
	Marshal(v any) ([]byte, error)
	// Unmarshal decodes data into v, a non-nil pointer to a value of the
	// registered type (for a pointer type *T, a **T whose *T may be nil).
	// It must return an error, never panic, on bytes it cannot decode.
	Unmarshal(data []byte, v any) error
}

// Codec IDs of the built-in codecs.
const (
	jsonID  uint32 = 1
	protoID uint32 = 2
)

// JSON is the default codec: encoding/json.
var JSON Codec = jsonCodec{}

// Protobuf encodes protobuf messages (the types protoc-gen-go generates,
// registered as pointers, like *pb.Order). It is the default for a type
// that implements proto.Message.
var Protobuf Codec = protoCodec{}

type jsonCodec struct{}

func (jsonCodec) ID() uint32                         { return jsonID }
func (jsonCodec) Marshal(v any) ([]byte, error)      { return json.Marshal(v) }
func (jsonCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

type protoCodec struct{}

func (protoCodec) ID() uint32 { return protoID }

func (protoCodec) Marshal(v any) ([]byte, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("remote: protobuf codec: %T is not a proto.Message", v)
	}
	return proto.Marshal(m)
}

func (protoCodec) Unmarshal(data []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("remote: protobuf codec: cannot decode into %T", v)
	}
	e := rv.Elem()
	if e.Kind() == reflect.Pointer && e.IsNil() {
		e.Set(reflect.New(e.Type().Elem()))
	}
	m, ok := e.Interface().(proto.Message)
	if !ok {
		return fmt.Errorf("remote: protobuf codec: %s is not a proto.Message", e.Type())
	}
	return proto.Unmarshal(data, m)
}

// Registration errors, and the error of a send whose message type was not
// registered. Compare with errors.Is.
var (
	// ErrUnregistered: the message's Go type (or, for RegisterAsk, its
	// reply type) has no registered name.
	ErrUnregistered = errors.New("remote: type not registered")
	// ErrRegistered: the name or the Go type is already registered the
	// other way round, or with another codec.
	ErrRegistered = errors.New("remote: conflicting registration")
	// ErrInvalidRegistration: an empty name, a nil codec or codec ID 0,
	// nil ask functions.
	ErrInvalidRegistration = errors.New("remote: invalid registration")
)

// A RegisterOption configures one registration.
type RegisterOption interface{ apply(*entry) }

type registerFunc func(*entry)

func (f registerFunc) apply(e *entry) { f(e) }

// WithCodec makes a registration use c instead of the default codec (JSON,
// or Protobuf for a proto.Message). A nil c is skipped.
func WithCodec(c Codec) RegisterOption {
	return registerFunc(func(e *entry) {
		if c != nil {
			e.codec = c
		}
	})
}

// entry is one registered type.
type entry struct {
	name   string
	typ    reflect.Type
	codec  Codec
	decode func(data []byte) (any, error) // a value of typ
	ask    *askSpec                       // set by RegisterAsk
}

// askSpec is how a registered request type carries its Reply.
type askSpec struct {
	reply reflect.Type // T
	// take splits m, an M, into m without its Reply and the pending reply
	// (ok false when m carries no valid Reply: it is sent as a Tell).
	take func(m any) (rest any, p pendingReply, ok bool)
	// serve hands m to the local ref (an actor.Ref[M]) as a request
	// (actor.TellRequest) with a Reply of its own whose answer goes to
	// answer as a kindReply or kindReplyFail envelope (corr not set),
	// exactly once, also when the request cannot be delivered. It waits
	// as the local Tell does; done is called when the answer is sent.
	serve func(ctx context.Context, ref any, m any, answer func(*envelope)) error
}

// pendingReply is the sender's side of an ask in flight.
type pendingReply struct {
	answer func(e *envelope) // kindReply or kindReplyFail
	fail   func(err error)
	stop   func() bool // cancels the forget-on-ctx-done hook
}

var registry struct {
	sync.RWMutex
	byName map[string]*entry
	byType map[reflect.Type]*entry
	codecs map[uint32]Codec
	// Copies of byName and byType, published at each registration:
	// every message sent or received looks its type up, without a lock.
	names atomic.Pointer[map[string]*entry]
	types atomic.Pointer[map[reflect.Type]*entry]
}

func init() {
	registry.byName = map[string]*entry{}
	registry.byType = map[reflect.Type]*entry{}
	registry.codecs = map[uint32]Codec{jsonID: JSON, protoID: Protobuf}
}

var protoMessage = reflect.TypeFor[proto.Message]()

// Register gives the Go type M a stable name that every node uses for it
// on the wire, and the codec that encodes it (JSON by default; Protobuf
// when M implements proto.Message; WithCodec for another). Every node that
// sends or receives M registers it under the same name, usually in an init
// function. Registering the same type under the same name again is a
// no-op; a name or type already registered otherwise gives an error
// matching ErrRegistered, an empty name or a codec with ID 0 one matching
// ErrInvalidRegistration. Register is safe for concurrent use.
func Register[M any](name string, opts ...RegisterOption) error {
	_, err := register[M](name, opts)
	return err
}

func register[M any](name string, opts []RegisterOption) (*entry, error) {
	t := reflect.TypeFor[M]()
	e := &entry{name: name, typ: t, codec: JSON}
	if t.Implements(protoMessage) {
		e.codec = Protobuf
	}
	for _, o := range opts {
		if o != nil {
			o.apply(e)
		}
	}
	if name == "" {
		return nil, fmt.Errorf("%w: empty name for %s", ErrInvalidRegistration, t)
	}
	id := e.codec.ID()
	if id == 0 {
		return nil, fmt.Errorf("%w: codec %T has ID 0", ErrInvalidRegistration, e.codec)
	}
	c := e.codec
	e.decode = func(data []byte) (any, error) {
		var m M
		if err := c.Unmarshal(data, &m); err != nil {
			return nil, err
		}
		return m, nil
	}
	registry.Lock()
	defer registry.Unlock()
	if have, ok := registry.codecs[id]; ok && reflect.TypeOf(have) != reflect.TypeOf(c) {
		return nil, fmt.Errorf("%w: codec ID %d is %T, not %T", ErrRegistered, id, have, c)
	}
	if old, ok := registry.byName[name]; ok {
		if old.typ == t && old.codec.ID() == id {
			return old, nil
		}
		return nil, fmt.Errorf("%w: name %q is %s (codec %d)", ErrRegistered, name, old.typ, old.codec.ID())
	}
	if old, ok := registry.byType[t]; ok {
		return nil, fmt.Errorf("%w: %s is registered as %q", ErrRegistered, t, old.name)
	}
	registry.codecs[id] = c
	registry.byName[name] = e
	registry.byType[t] = e
	names, types := maps.Clone(registry.byName), maps.Clone(registry.byType)
	registry.names.Store(&names)
	registry.types.Store(&types)
	return e, nil
}

// RegisterAsk registers M, a request type that carries an actor.Reply[T],
// as Register does, plus how to take its Reply out (get) and put one in
// (set). A handle that sends an M with a valid Reply keeps that Reply on
// the sending node and sends M without it; the receiving node's gateway
// asks the exposed actor with M and a Reply of its own, and sends the
// answer back, which completes the sender's Reply. T must be registered
// first (error matching ErrUnregistered otherwise); get and set must not
// be nil (ErrInvalidRegistration). Registering the same M again is a
// no-op (the first get and set stay); after a plain Register of M under
// the same name it adds the ask handling.
func RegisterAsk[M, T any](name string, get func(M) actor.Reply[T], set func(*M, actor.Reply[T]), opts ...RegisterOption) error {
	if get == nil || set == nil {
		return fmt.Errorf("%w: nil get or set for %s", ErrInvalidRegistration, reflect.TypeFor[M]())
	}
	rt := reflect.TypeFor[T]()
	registry.RLock()
	_, ok := registry.byType[rt]
	registry.RUnlock()
	if !ok {
		return fmt.Errorf("reply type %s of %q: %w", rt, name, ErrUnregistered)
	}
	e, err := register[M](name, opts)
	if err != nil {
		return err
	}
	spec := &askSpec{
		reply: rt,
		take: func(m any) (any, pendingReply, bool) {
			mm := m.(M)
			r := get(mm)
			if !r.Valid() {
				return m, pendingReply{}, false
			}
			set(&mm, actor.Reply[T]{})
			return mm, pendingReply{
				answer: func(e *envelope) {
					if e.Kind == kindReplyFail {
						_ = r.Fail(nil, wireError(e))
						return
					}
					v, err := decodeAs[T](e)
					if err != nil {
						_ = r.Fail(nil, err)
						return
					}
					_ = r.Send(nil, v)
				},
				fail: func(err error) { _ = r.Fail(nil, err) },
			}, true
		},
		serve: func(ctx context.Context, ref any, m any, answer func(*envelope)) error {
			mm := m.(M)
			r := actor.NewReply(func(v T, err error) {
				if err != nil {
					answer(failEnvelope(err))
					return
				}
				out, err := encodeValue(v)
				if err != nil {
					answer(failEnvelope(err))
					return
				}
				out.Kind = kindReply
				answer(out)
			})
			set(&mm, r)
			err := actor.TellRequest(ctx, ref.(actor.Ref[M]), r, mm)
			if err != nil {
				// Not queued: answer the asker now (a no-op if the
				// runtime already completed r).
				_ = r.Fail(nil, err)
			}
			return err
		},
	}
	registry.Lock()
	defer registry.Unlock()
	if e.ask == nil {
		e.ask = spec
	} else if e.ask.reply != rt {
		return fmt.Errorf("%w: %q replies %s, not %s", ErrRegistered, name, e.ask.reply, rt)
	}
	return nil
}

// lookupType returns the entry of a Go type, nil if none.
func lookupType(t reflect.Type) *entry {
	if m := registry.types.Load(); m != nil {
		return (*m)[t]
	}
	return nil
}

// lookupName returns the entry of a wire name, nil if none.
func lookupName(name string) *entry {
	if m := registry.names.Load(); m != nil {
		return (*m)[name]
	}
	return nil
}

// encodeValue encodes v with its registration: type, codec and payload of
// an envelope. It returns an error matching ErrUnregistered for a type
// without one.
func encodeValue(v any) (*envelope, error) {
	t := reflect.TypeOf(v)
	e := lookupType(t)
	if e == nil {
		return nil, fmt.Errorf("remote: %v: %w", t, ErrUnregistered)
	}
	return encodeWith(e, v)
}

func encodeWith(e *entry, v any) (out *envelope, err error) {
	defer func() {
		if p := recover(); p != nil { // a codec's bug must not take the sender down
			out, err = nil, fmt.Errorf("remote: encode %q: codec panicked: %v", e.name, p)
		}
	}()
	b, err := e.codec.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("remote: encode %q: %w", e.name, err)
	}
	return &envelope{Type: e.name, Codec: e.codec.ID(), Payload: b}, nil
}

// An UndecodableError says why a received message could not be decoded;
// the message is dead-lettered on the receiving node as an [Undecodable].
type UndecodableError struct {
	Type  string // the wire name
	Codec uint32
	Err   error // ErrUnregistered, a codec mismatch or the codec's error
}

// Error names the type, the codec and the cause.
func (e *UndecodableError) Error() string {
	return fmt.Sprintf("remote: cannot decode %q (codec %d): %v", e.Type, e.Codec, e.Err)
}

// Unwrap returns the cause.
func (e *UndecodableError) Unwrap() error { return e.Err }

// decodeEnvelope decodes the payload of e into a value of its registered
// type. It never panics: a missing name, a codec mismatch, a codec error
// or a codec panic is an *UndecodableError.
func decodeEnvelope(e *envelope) (v any, ent *entry, err error) {
	ent = lookupName(e.Type)
	if ent == nil {
		return nil, nil, &UndecodableError{Type: e.Type, Codec: e.Codec, Err: ErrUnregistered}
	}
	if ent.codec.ID() != e.Codec {
		return nil, ent, &UndecodableError{Type: e.Type, Codec: e.Codec, Err: fmt.Errorf("registered with codec %d", ent.codec.ID())}
	}
	defer func() {
		if p := recover(); p != nil {
			v, err = nil, &UndecodableError{Type: e.Type, Codec: e.Codec, Err: fmt.Errorf("codec panicked: %v", p)}
		}
	}()
	v, err = ent.decode(e.Payload)
	if err != nil {
		return nil, ent, &UndecodableError{Type: e.Type, Codec: e.Codec, Err: err}
	}
	return v, ent, nil
}

// decodeAs decodes e into a T.
func decodeAs[T any](e *envelope) (T, error) {
	var zero T
	v, _, err := decodeEnvelope(e)
	if err != nil {
		return zero, err
	}
	t, ok := v.(T)
	if !ok {
		return zero, &UndecodableError{Type: e.Type, Codec: e.Codec, Err: fmt.Errorf("is %T, want %s", v, reflect.TypeFor[T]())}
	}
	return t, nil
}
