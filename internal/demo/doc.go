// Package demo is `milvus-ha demo`, the README's first command: the real
// product, a pair of keepers with the embedded Milvus-compatible server,
// failed over in a throw-away network-namespace lab while the user watches
// a Milvus client write through the VIP.
//
// Run builds the lab with netlab (hosts a 198.18.0.1 and b 198.18.0.2
// each running `milvus-ha run --config node.yaml`, a client 198.18.0.3,
// a shared storage directory, VIP 198.18.0.100/24), starts a Workload on
// the client that sends requests through the VIP, and plays a fault script
// against a, the preferred node: host loss (link down) and its return,
// `kill -9` of its keeper and a restart, a planned `milvus-ha switchover`
// and `resume`, a failing health check and its recovery, and a network cut
// between a and b with the storage still shared (b must stay out: "peer
// alive on storage") and its heal. --quick stops after the restart. After
// each action it waits for the expected node to answer the VIP and
// narrates, with timestamps relative to the start, when it answered and
// what the client saw; the keepers' own transitions and events are
// narrated as they happen, polled from each node's status API. At the end
// the workload verifies what it wrote, a table sums up each step
// (takeover time, outage, failed requests, slowest answer) and an SVG
// timeline is written. The lab, its processes and the temporary directory
// are removed on success, failure and cancellation (Ctrl-C).
//
// What the client saw is measured from the workload's samples only: a
// step's outage is the longest time without an answer (from the
// completion of the last answered request before it to that of the first
// after), and which node answered is Sample.ServedBy, never the nodes' own
// word. The nodes' reports (status API) are narrated and plotted, and
// checked where the step is about them (the network cut).
//
// Parts:
//   - RenderNodeConfig is the only place that knows the node config format
//     (native node.yaml: VRRPv3 100 ms adverts, preempt, embedded service,
//     data_dir, status API on loopback, a script check the demo can fail).
//   - Workload is the client traffic. Milvus (the default) is a raw
//     milvuspb gRPC client: it creates a collection, AUTOINDEX index and
//     load, inserts a row every 10 ms, and Stop reads every acknowledged key
//     back through the VIP, failing the run if one is missing; the serving
//     node is the source MAC of the SYN-ACK of the connection an insert
//     used. Probe (`--workload icmp`) sends ICMP echoes and tells the
//     answering node by the reply's source MAC.
//
// Run needs root and the ip and nft tools; Preflight says precisely what
// is missing.
package demo
