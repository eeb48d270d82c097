package milvusapi

import (
	"errors"
	"fmt"
	"testing"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"

	"github.com/milvus-ha/milvus-ha/internal/vectordb"
)

// TestStatusMapping: every error carries both the merr code and the legacy
// error_code that Milvus pairs with it (merr.oldCode), so old and new SDKs
// classify it the same way.
func TestStatusMapping(t *testing.T) {
	wrap := func(kind error) error { return fmt.Errorf("%w: detail", kind) }
	for _, tc := range []struct {
		err    error
		code   int32
		legacy commonpb.ErrorCode
	}{
		{nil, 0, commonpb.ErrorCode_Success},
		{wrap(vectordb.ErrCollectionNotFound), 100, commonpb.ErrorCode_CollectionNotExists},
		{wrap(vectordb.ErrSchemaMismatch), 109, commonpb.ErrorCode_SchemaMismatch},
		{wrap(vectordb.ErrInvalidSchema), 1100, commonpb.ErrorCode_IllegalArgument},
		{wrap(vectordb.ErrDimMismatch), 1100, commonpb.ErrorCode_IllegalArgument},
		{wrap(vectordb.ErrFilter), 1100, commonpb.ErrorCode_IllegalArgument},
		{wrap(vectordb.ErrFieldNotFound), 1100, commonpb.ErrorCode_IllegalArgument},
		{wrap(vectordb.ErrIndexNotFound), 700, commonpb.ErrorCode_IndexNotExist},
		{wrap(vectordb.ErrNotLoaded), 101, commonpb.ErrorCode_UnexpectedError},
		{wrap(vectordb.ErrNotPrimary), 1, commonpb.ErrorCode_NotReadyServe},
		{wrap(vectordb.ErrFenced), 1, commonpb.ErrorCode_NotReadyServe},
		{wrap(vectordb.ErrLeaseUnproven), 2, commonpb.ErrorCode_UnexpectedError},
		{wrap(vectordb.ErrStorage), 1001, commonpb.ErrorCode_UnexpectedError},
		{errf(CodeUnimplemented, "x"), 10, commonpb.ErrorCode_UnexpectedError},
		{errf(CodeDatabaseNotFound, "x"), 800, commonpb.ErrorCode_UnexpectedError},
		{errors.New("surprise"), 5, commonpb.ErrorCode_UnexpectedError},
	} {
		st := statusOf(tc.err)
		if st.GetCode() != tc.code || st.GetErrorCode() != tc.legacy {
			t.Errorf("%v: code %d legacy %v, want %d %v", tc.err, st.GetCode(), st.GetErrorCode(), tc.code, tc.legacy)
		}
		if tc.err != nil && (st.GetReason() == "" || st.GetDetail() == "") {
			t.Errorf("%v: empty reason/detail", tc.err)
		}
		if st.GetRetriable() != (tc.code == CodeNotReady || tc.code == CodeUnavailable) {
			t.Errorf("%v: retriable %v", tc.err, st.GetRetriable())
		}
	}
}

// TestUnimplementedResponse: every unary MilvusService RPC has a well-formed
// "unimplemented" answer carrying code 10, built from the descriptor.
func TestUnimplementedResponse(t *testing.T) {
	sd := milvuspb.File_milvus_proto.Services().ByName("MilvusService")
	n := 0
	for i := 0; i < sd.Methods().Len(); i++ {
		md := sd.Methods().Get(i)
		if md.IsStreamingClient() || md.IsStreamingServer() {
			continue
		}
		resp := unimplementedResponse(string(md.Name()))
		if resp == nil {
			// Only responses without a status field may lack one.
			if md.Output().Fields().ByName("status") != nil {
				t.Errorf("%s: no unimplemented response", md.Name())
			}
			continue
		}
		n++
		if code := responseCode(resp); code != CodeUnimplemented {
			t.Errorf("%s: code %d, want 10", md.Name(), code)
		}
	}
	if n < 100 {
		t.Errorf("only %d methods covered", n)
	}
	if unimplementedResponse("NoSuchMethod") != nil {
		t.Error("response for an unknown method")
	}
}
