// Package sdk proves milvus-ha's wire compatibility with the official
// Milvus Go SDK (github.com/milvus-io/milvus/client/v2) and with plain REST
// v2 JSON. It is a separate module so the SDK's large dependency tree stays
// out of the product's go.mod.
//
// The tests build the real `milvus-ha` binary from the main module once,
// then start `milvus-ha serve` as a child process on 127.0.0.1 with random
// ports and a temporary data directory, and talk to it as a client would.
//
// Run from the repository root:
//
//	cd test/sdk && go test ./...
//
// One test (TestIdleConnectionSurvives) idles for 61 s on purpose; -short
// skips it. The API benchmark is BenchmarkAPI (see bench_test.go).
package sdk
