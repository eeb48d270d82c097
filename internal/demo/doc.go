// Package demo is `milvus-ha demo`, the README's first command: a
// two-node pair failed over in a throw-away network-namespace lab while
// the user watches.
//
// Run builds the lab with netlab (hosts a 198.18.0.1 and b 198.18.0.2
// running `milvus-ha run --config`, a client 198.18.0.3, a shared temporary
// directory, VIP 198.18.0.100/24), starts a Workload on the client that
// sends requests through the VIP, and plays a fault script against a, the
// preferred node: host loss (link down) and its return, `kill -9` of its
// milvus-ha and a restart, a failing service check and its recovery
// (--quick stops after the restart). After each action it waits for the
// expected node to answer the VIP and narrates, with timestamps relative
// to the start, when the new owner answered and what the client saw; at the
// end it prints a table (takeover time, outage, failed requests, slowest
// answer per step) and writes an SVG timeline. The lab, its processes and
// the directory are removed on success, failure and cancellation (Ctrl-C).
//
// What the client saw is measured from the workload's samples only, by
// request: a run of failed requests is an outage from the first one's send
// time to the next answered request's send time (Measure). A stalled
// client therefore never shows as an outage. The expected owner is told by
// Sample.ServedBy, never by asking the nodes.
//
// Pluggable parts, for when the keeper lands:
//   - RenderNodeConfig is the only place that knows the node config
//     format (today keepalived.conf with VRRPv3 and 100 ms adverts; then
//     node.yaml with data_dir and the embedded service).
//   - Workload is the client traffic. Probe (ICMP echo every 10 ms, owner
//     from the reply's source MAC) is the first; a Milvus client workload
//     (inserts through the VIP, each Sample one acknowledged or failed
//     insert, Stop reading every acknowledged row back) replaces it through
//     Options.Workload without touching the scenario.
//
// Run needs root and the ip and nft tools; Preflight says precisely what
// is missing.
package demo
