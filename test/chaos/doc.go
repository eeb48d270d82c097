// Package chaos is the fault-injection suite of milvus-ha.
package chaos
