package angzarr

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/anypb"
)

// TypeURLPrefix prefixes every Any type URL the framework writes.
const TypeURLPrefix = "type.googleapis.com/"

var deterministic = proto.MarshalOptions{Deterministic: true}

// TypeURL is "type.googleapis.com/<full name>" of m's type.
func TypeURL(m proto.Message) string {
	return TypeURLPrefix + string(m.ProtoReflect().Descriptor().FullName())
}

// TypeName is the full proto name in a type URL: everything after the last '/'.
func TypeName(typeURL string) string {
	if i := strings.LastIndexByte(typeURL, '/'); i >= 0 {
		return typeURL[i+1:]
	}
	return typeURL
}

// Pack marshals m deterministically into an Any named
// "type.googleapis.com/<full name>".
func Pack(m proto.Message) (*anypb.Any, error) {
	if m == nil || !m.ProtoReflect().IsValid() {
		return nil, fmt.Errorf("cannot pack a nil message")
	}
	b, err := deterministic.Marshal(m)
	if err != nil {
		return nil, err
	}
	return &anypb.Any{TypeUrl: TypeURL(m), Value: b}, nil
}

// MustPack is [Pack] for messages known to marshal; it panics otherwise.
func MustPack(m proto.Message) *anypb.Any {
	a, err := Pack(m)
	if err != nil {
		panic(err)
	}
	return a
}

// Unpack decodes a into a new message of the type its URL names, which must
// be linked into the program (any generated package registers its types).
func Unpack(a *anypb.Any) (proto.Message, error) {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(TypeName(a.GetTypeUrl())))
	if err != nil {
		return nil, fmt.Errorf("unknown type %q: %w", a.GetTypeUrl(), err)
	}
	m := mt.New().Interface()
	if err := proto.Unmarshal(a.GetValue(), m); err != nil {
		return nil, err
	}
	return m, nil
}

// Is reports whether a holds a message of m's type.
func Is(a *anypb.Any, m proto.Message) bool {
	return TypeName(a.GetTypeUrl()) == string(m.ProtoReflect().Descriptor().FullName())
}
