package milvusapi

import "google.golang.org/protobuf/proto"

func unmarshalProto(b []byte, m proto.Message) error { return proto.Unmarshal(b, m) }

// mustMarshal marshals messages this package built itself, which cannot
// fail to encode.
func mustMarshal(m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic("milvusapi: marshal of a self-built message: " + err.Error())
	}
	return b
}
