package remote

import (
	"reflect"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/runtime/protoimpl"
	"google.golang.org/protobuf/types/descriptorpb"
)

// envelope is the one protobuf message troupe puts on protoactor's wire.
// It is hand-written the way protoc-gen-go writes generated code (so
// nobody needs protoc); its descriptor is built from descriptorpb at init:
//
//	syntax = "proto3";
//	package troupe.remote.v1;
//	message Envelope {
//	  uint32 kind     = 1;  // what this is: a message, an ack, a reply...
//	  string type     = 2;  // the registered name of the payload's Go type
//	  uint32 codec    = 3;  // the Codec that encoded the payload
//	  bytes  payload  = 4;
//	  uint64 corr     = 5;  // correlation id of an ask and of its reply; an exit's error code
//	  string sender   = 6;  // the sending handle's protoactor id
//	  string node     = 7;  // the sending node's address
//	  uint64 seq      = 8;  // a message's sequence number; an ack's cumulative one
//	  int64  deadline = 9;  // an ask's deadline, Unix nanoseconds (0: none)
//	  uint32 reason   = 10; // an exit's actor.ExitReason; a failed reply's error code
//	  string err      = 11; // an exit's or a failed reply's error text
//	  bytes    batch    = 12; // a batch's messages, in order (batch.go)
//	}
//
// A batch (kind batch) carries several messages of one handle in one wire
// message, in a compact encoding of their own (encodeBatch): its sender
// and node are those of every message in it.
//
// Only the gateway and the handle decode it, on their own goroutines:
// protoactor's endpoint reader sees a plain protobuf message it knows, so
// nothing a peer sends can make it fail the stream or panic.
type envelope struct {
	state         protoimpl.MessageState
	sizeCache     protoimpl.SizeCache
	unknownFields protoimpl.UnknownFields

	Kind     uint32 `protobuf:"varint,1,opt,name=kind,proto3" json:"kind,omitempty"`
	Type     string `protobuf:"bytes,2,opt,name=type,proto3" json:"type,omitempty"`
	Codec    uint32 `protobuf:"varint,3,opt,name=codec,proto3" json:"codec,omitempty"`
	Payload  []byte `protobuf:"bytes,4,opt,name=payload,proto3" json:"payload,omitempty"`
	Corr     uint64 `protobuf:"varint,5,opt,name=corr,proto3" json:"corr,omitempty"`
	Sender   string `protobuf:"bytes,6,opt,name=sender,proto3" json:"sender,omitempty"`
	Node     string `protobuf:"bytes,7,opt,name=node,proto3" json:"node,omitempty"`
	Seq      uint64 `protobuf:"varint,8,opt,name=seq,proto3" json:"seq,omitempty"`
	Deadline int64  `protobuf:"varint,9,opt,name=deadline,proto3" json:"deadline,omitempty"`
	Reason   uint32 `protobuf:"varint,10,opt,name=reason,proto3" json:"reason,omitempty"`
	Err      string `protobuf:"bytes,11,opt,name=err,proto3" json:"err,omitempty"`
	Batch    []byte `protobuf:"bytes,12,opt,name=batch,proto3" json:"batch,omitempty"`
}

// Envelope kinds.
const (
	kindTell      uint32 = iota + 1 // a message for the exposed actor
	kindAsk                         // a request: a message whose reply comes back under corr
	kindAck                         // gateway -> handle: delivered up to seq
	kindReply                       // gateway -> handle: the answer to corr
	kindReplyFail                   // gateway -> handle: the asked actor failed the request corr
	kindWatch                       // handle -> gateway: send me an exit
	kindUnwatch                     // handle -> gateway: I am gone
	kindExit                        // gateway -> handle: the actor stopped for good, with reason and err
	kindStop                        // handle -> gateway: stop the actor
	kindKill                        // handle -> gateway: kill the actor's incarnation
	kindStopNow                     // handle -> gateway: stop the actor without waiting
	kindBatch                       // handle -> gateway: the messages in batch, in order
	kindMax
)

// Reset implements proto.Message.
func (x *envelope) Reset() {
	*x = envelope{}
	ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
	ms.StoreMessageInfo(&envelopeTypes[0])
}

// String implements proto.Message.
func (x *envelope) String() string { return protoimpl.X.MessageStringOf(x) }

// ProtoMessage implements proto.Message.
func (*envelope) ProtoMessage() {}

// ProtoReflect implements proto.Message.
func (x *envelope) ProtoReflect() protoreflect.Message {
	mi := &envelopeTypes[0]
	if x != nil {
		ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
		if ms.LoadMessageInfo() == nil {
			ms.StoreMessageInfo(mi)
		}
		return ms
	}
	return mi.MessageOf(x)
}

// envelopeName is the envelope's protobuf full name, what protoactor
// writes on the wire as its type.
const envelopeName = "troupe.remote.v1.Envelope"

var envelopeTypes = make([]protoimpl.MessageInfo, 1)

func init() {
	s := func(v string) *string { return &v }
	n := func(v int32) *int32 { return &v }
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()
	u32 := descriptorpb.FieldDescriptorProto_TYPE_UINT32.Enum()
	u64 := descriptorpb.FieldDescriptorProto_TYPE_UINT64.Enum()
	i64 := descriptorpb.FieldDescriptorProto_TYPE_INT64.Enum()
	str := descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()
	byt := descriptorpb.FieldDescriptorProto_TYPE_BYTES.Enum()
	field := func(name string, num int32, t *descriptorpb.FieldDescriptorProto_Type) *descriptorpb.FieldDescriptorProto {
		return &descriptorpb.FieldDescriptorProto{Name: s(name), JsonName: s(name), Number: n(num), Label: opt, Type: t}
	}
	fd := &descriptorpb.FileDescriptorProto{
		Name:    s("troupe/remote/v1/envelope.proto"),
		Package: s("troupe.remote.v1"),
		Syntax:  s("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: s("Envelope"),
			Field: []*descriptorpb.FieldDescriptorProto{
				field("kind", 1, u32),
				field("type", 2, str),
				field("codec", 3, u32),
				field("payload", 4, byt),
				field("corr", 5, u64),
				field("sender", 6, str),
				field("node", 7, str),
				field("seq", 8, u64),
				field("deadline", 9, i64),
				field("reason", 10, u32),
				field("err", 11, str),
				field("batch", 12, byt),
			},
		}},
	}
	raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(fd)
	if err != nil {
		panic("remote: envelope descriptor: " + err.Error()) // a bug in this file, found by every test
	}
	type pkg struct{}
	protoimpl.TypeBuilder{
		File: protoimpl.DescBuilder{
			GoPackagePath: reflect.TypeOf(pkg{}).PkgPath(),
			RawDescriptor: raw,
			NumMessages:   1,
		},
		GoTypes:           []any{(*envelope)(nil)},
		DependencyIndexes: []int32{0, 0, 0, 0, 0},
		MessageInfos:      envelopeTypes,
	}.Build()
}

// marshalEnvelope encodes e to protobuf bytes (what protoactor does on the
// wire; used by tests and the fuzzer).
func marshalEnvelope(e *envelope) ([]byte, error) { return proto.Marshal(e) }

// unmarshalEnvelope decodes protobuf bytes into an envelope.
func unmarshalEnvelope(b []byte) (*envelope, error) {
	e := new(envelope)
	if err := proto.Unmarshal(b, e); err != nil {
		return nil, err
	}
	return e, nil
}
