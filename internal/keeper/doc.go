// Package keeper runs one node of a milvus-ha pair: the VRRP speaker, the
// storage guard and the protected service, in the order DESIGN.md argues.
//
// Becoming active happens inside the speaker's gate, before anything goes
// on the wire: the warm-standby store is promoted (which takes the lease,
// bumps the fencing epoch and seals the previous owner's log), the Milvus
// API starts serving, and only then does the speaker add the VIP and send
// gratuitous ARPs. Stepping down runs the other way: the speaker removes
// the VIP, then the keeper stops the API and closes the primary store
// (releasing the lease, so the peer may take it at once) and reopens it as
// a standby.
//
// The storage guard is the tie-breaker. A node whose gate cannot take the
// lease because the peer's heartbeat still moves on the shared storage
// ("peer alive on storage": the network between the hosts is cut but the
// peer is alive) does not claim MASTER; it retries every lease timeout. An
// active node whose store is fenced (the lease was lost or the storage
// failed) inhibits its instance, which drops the VIP at once.
//
// The control API (GET /status, /primary, /standby, /health, /history,
// /metrics; POST /switchover, /pause, /resume) needs a bearer token for
// every state-changing call when one is configured; without a token the
// configuration must keep it on loopback.
package keeper
