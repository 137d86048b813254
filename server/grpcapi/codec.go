package grpcapi

import (
	"context"
	"fmt"
	"sync"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// requestCodec is the protobuf codec, except that a request that does not
// decode (a string field that is not valid UTF-8, say) is the caller's bad
// input: grpc-go would answer INTERNAL, so the codec lets the call go on
// with the error noted, and the call is answered INVALID_ARGUMENT (after
// authentication) before any handler sees the message.
type requestCodec struct {
	encoding.CodecV2
	// undecodable maps a request message to why it did not decode.
	undecodable *sync.Map
}

func newRequestCodec() requestCodec {
	return requestCodec{CodecV2: encoding.GetCodecV2(proto.Name), undecodable: &sync.Map{}}
}

func (c requestCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if err := c.CodecV2.Unmarshal(data, v); err != nil {
		if m, ok := v.(protoreflect.ProtoMessage); ok {
			if field := invalidUTF8Field(m.ProtoReflect().Descriptor(), data.Materialize(), ""); field != "" {
				err = fmt.Errorf("%s: not valid UTF-8", field)
			}
		}
		c.undecodable.Store(v, err)
	}
	return nil
}

// invalidUTF8Field names the first string field of a message's wire bytes
// that is not valid UTF-8 (protobuf's own error does not say which).
func invalidUTF8Field(md protoreflect.MessageDescriptor, b []byte, prefix string) string {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return ""
		}
		b = b[n:]
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return ""
		}
		value := b[:n]
		b = b[n:]
		fd := md.Fields().ByNumber(num)
		if fd == nil || typ != protowire.BytesType {
			continue
		}
		v, _ := protowire.ConsumeBytes(value)
		name := prefix + string(fd.Name())
		switch {
		case fd.IsMap():
			if f := invalidUTF8Field(fd.Message(), v, name+"."); f != "" {
				return f
			}
		case fd.Kind() == protoreflect.StringKind && !utf8.Valid(v):
			return name
		case fd.Kind() == protoreflect.MessageKind:
			if f := invalidUTF8Field(fd.Message(), v, name+"."); f != "" {
				return f
			}
		}
	}
	return ""
}

// refusal is the answer to a request that did not decode, or nil.
func (c requestCodec) refusal(req any) error {
	if err, ok := c.undecodable.LoadAndDelete(req); ok {
		return status.Errorf(codes.InvalidArgument, "the request does not decode: %v", err)
	}
	return nil
}

type refusalKey struct{}

// take, the first interceptor, collects the refusal of a request (so no
// note outlives its call); refuse, the last, answers it: authentication
// comes first, then the request's form, then the handler.
func (c requestCodec) take(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err := c.refusal(req); err != nil {
		ctx = context.WithValue(ctx, refusalKey{}, err)
	}
	return handler(ctx, req)
}

func (requestCodec) refuse(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err, ok := ctx.Value(refusalKey{}).(error); ok {
		return nil, err
	}
	return handler(ctx, req)
}

func (c requestCodec) stream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return handler(srv, checkedStream{ServerStream: ss, codec: c})
}

type checkedStream struct {
	grpc.ServerStream
	codec requestCodec
}

func (s checkedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return s.codec.refusal(m)
}
