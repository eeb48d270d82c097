// Package ha holds the end-to-end tests of a milvus-ha pair: two keepers
// with the embedded vector server on shared storage, in network namespaces,
// driven through the VIP by the official Milvus Go SDK. It is a separate
// module so that the SDK's dependency tree stays out of the product's
// go.mod.
package ha
