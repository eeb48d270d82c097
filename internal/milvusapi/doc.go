// Package milvusapi serves Milvus' wire APIs over the embedded store
// (internal/vectordb): the gRPC MilvusService that the official SDKs speak
// and the REST v2 API, both on one port, plus /healthz and /metrics on a
// second one. Clients written for Milvus 2.6 work unchanged.
//
// # Contract
//
//   - One database ("default") and one partition ("_default"). Requests
//     naming others get Milvus' database (800) or partition (200) not found.
//   - Every RPC answers errors inside its Status, never as a gRPC error,
//     with both the merr `code` and the legacy `error_code` Milvus pairs with
//     it (100/CollectionNotExists, 109/SchemaMismatch, 700/IndexNotExist,
//     1100/IllegalArgument, ...), so old and new SDKs classify them alike.
//     Exceptions, as in Milvus: authentication failures (gRPC
//     Unauthenticated, from an interceptor), undecodable or oversized
//     messages (gRPC Internal / ResourceExhausted, from grpc-go itself).
//   - RPCs this server does not implement answer code 10 "service
//     unimplemented", naming milvus-ha, with the method's own response type
//     (built from the proto descriptor): never a crash, never a bare gRPC
//     Unimplemented that some SDKs treat as an old server.
//   - Writes carry the client's schema_timestamp (DescribeCollection's
//     update_timestamp); a stale one is refused with 109 so the Go SDK drops
//     its cached schema and retries — a dropped and re-created collection
//     stays usable from an old client.
//   - Loading is a persisted flag (the store keeps everything in memory), so
//     the loaded state survives restarts; index builds are "Finished" at
//     once because rows not yet in the graph are searched exactly.
//   - Search results are laid out as the SDK slices them: topks per query,
//     then ids, scores and every fields_data column concatenated, all
//     exactly sum(topks) long.
//
// # Transport
//
// gRPC and REST share a listener: a connection that opens with the HTTP/2
// preface goes to grpc-go's native transport, anything else to an
// HTTP/1.1 server (REST over h2c is not supported). Messages and bodies may
// be up to 256 MiB. Keepalive pings are allowed every 2 s even without
// active RPCs: the Go SDK pings every 5 s, and grpc-go's default policy
// would answer that with GOAWAY after ~30 s idle.
//
// # REST v2
//
// POST /v2/vectordb/{collections,entities,indexes}/<action> with JSON;
// errors are HTTP 200 with {"code":<Milvus code>,"message":...}, success
// is {"code":0,"data":...}. Each handler builds the gRPC request and calls
// the same service method, so both APIs share validation and codes.
// Authentication is "Authorization: Bearer user:password"; a missing or
// wrong one is HTTP 401 with code 1800. int64 IDs come back as strings
// unless the client sends Accept-Type-Allow-Int64: true.
package milvusapi
