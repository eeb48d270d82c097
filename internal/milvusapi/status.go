package milvusapi

import (
	"errors"
	"fmt"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"

	"github.com/milvus-ha/milvus-ha/internal/vectordb"
)

// Milvus error codes (the `code` field of commonpb.Status, Milvus' merr
// package). Only those this server returns are listed.
const (
	CodeSuccess             int32 = 0
	CodeNotReady            int32 = 1
	CodeUnavailable         int32 = 2
	CodeInternal            int32 = 5
	CodeUnimplemented       int32 = 10
	CodeCollectionNotFound  int32 = 100
	CodeCollectionNotLoaded int32 = 101
	CodeIllegalSchema       int32 = 105
	CodeSchemaMismatch      int32 = 109
	CodeIndexNotFound       int32 = 700
	CodeIndexNotSupported   int32 = 701
	CodeIndexDuplicate      int32 = 702
	CodeDatabaseNotFound    int32 = 800
	CodeIOFailed            int32 = 1001
	CodeParameterInvalid    int32 = 1100
	CodeParameterMissing    int32 = 1101
	CodeParameterTooLarge   int32 = 1102
	CodeMetricNotFound      int32 = 1200
	CodeFieldNotFound       int32 = 1700
	CodeNeedAuthenticate    int32 = 1800
	CodeIncorrectFormat     int32 = 1801
	CodeMissingRequired     int32 = 1802
	CodeInvalidInsertData   int32 = 1804
)

// apiError is an error that carries its Milvus code. Every error this
// package hands to a client is (or is converted to) one.
type apiError struct {
	code   int32
	reason string
	err    error // underlying cause, may be nil
}

func (e *apiError) Error() string { return e.reason }
func (e *apiError) Unwrap() error { return e.err }

// errf builds an apiError with a formatted reason.
func errf(code int32, format string, args ...any) error {
	return &apiError{code: code, reason: fmt.Sprintf(format, args...)}
}

// codeOf returns the Milvus code for err: the code of an apiError, or the
// code the store's error kind maps to. Unknown errors are internal (5).
func codeOf(err error) int32 {
	if err == nil {
		return CodeSuccess
	}
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.code
	}
	for _, m := range storeCodes {
		if errors.Is(err, m.kind) {
			return m.code
		}
	}
	return CodeInternal
}

// storeCodes maps the store's error kinds to the codes a real Milvus
// returns for the same condition.
var storeCodes = []struct {
	kind error
	code int32
}{
	{vectordb.ErrCollectionNotFound, CodeCollectionNotFound},
	{vectordb.ErrCollectionExists, CodeParameterInvalid},
	{vectordb.ErrInvalidSchema, CodeParameterInvalid},
	{vectordb.ErrSchemaMismatch, CodeSchemaMismatch},
	{vectordb.ErrFieldNotFound, CodeParameterInvalid},
	{vectordb.ErrTypeMismatch, CodeParameterInvalid},
	{vectordb.ErrDimMismatch, CodeParameterInvalid},
	{vectordb.ErrVarcharTooLong, CodeParameterInvalid},
	{vectordb.ErrMissingPrimaryKey, CodeParameterInvalid},
	{vectordb.ErrMissingField, CodeParameterInvalid},
	{vectordb.ErrNaN, CodeParameterInvalid},
	{vectordb.ErrInvalidArgument, CodeParameterInvalid},
	{vectordb.ErrFilter, CodeParameterInvalid},
	{vectordb.ErrIndexNotFound, CodeIndexNotFound},
	{vectordb.ErrIndexConflict, CodeIndexDuplicate},
	{vectordb.ErrMetricMismatch, CodeParameterInvalid},
	{vectordb.ErrNotLoaded, CodeCollectionNotLoaded},
	{vectordb.ErrNotPrimary, CodeNotReady},
	{vectordb.ErrFenced, CodeNotReady},
	// A read refused while the lease is unproven: Milvus' "service
	// unavailable", retriable. Its own code makes such refusals countable
	// apart (milvus_ha_api_errors_total{code="2"}).
	{vectordb.ErrLeaseUnproven, CodeUnavailable},
	{vectordb.ErrStorage, CodeIOFailed},
	{vectordb.ErrClosed, CodeNotReady},
}

// legacyCode is the deprecated commonpb.ErrorCode Milvus sends beside each
// code; old SDKs look only at it, so it must match Milvus' choice.
func legacyCode(code int32) commonpb.ErrorCode {
	switch code {
	case CodeSuccess:
		return commonpb.ErrorCode_Success
	case CodeNotReady:
		return commonpb.ErrorCode_NotReadyServe
	case CodeCollectionNotFound:
		return commonpb.ErrorCode_CollectionNotExists
	case CodeParameterInvalid:
		return commonpb.ErrorCode_IllegalArgument
	case CodeIndexNotFound:
		return commonpb.ErrorCode_IndexNotExist
	case CodeSchemaMismatch:
		return commonpb.ErrorCode_SchemaMismatch
	}
	return commonpb.ErrorCode_UnexpectedError
}

// retriable reports whether Milvus marks the code retriable.
func retriable(code int32) bool { return code == CodeNotReady || code == CodeUnavailable }

// statusOf converts err into the Status a Milvus proxy would send: both the
// code and the legacy error_code, the reason and the full detail.
func statusOf(err error) *commonpb.Status {
	if err == nil {
		return &commonpb.Status{}
	}
	code := codeOf(err)
	return &commonpb.Status{
		Code:      code,
		ErrorCode: legacyCode(code),
		Reason:    err.Error(),
		Detail:    err.Error(),
		Retriable: retriable(code),
	}
}
