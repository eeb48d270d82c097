// Package config turns a milvus-ha configuration file into one internal model,
// whichever of the two accepted formats it is written in:
//
//   - the native YAML format (node.yaml), whose top-level keys are a public
//     contract (see yaml.go), and
//   - a keepalived.conf (the subset described in the project reference §4):
//     global_defs, vrrp_script, vrrp_instance, vrrp_sync_group, include,
//     comments and keepalived's quoting rules.
//
// Contract:
//
//   - Load(path) detects the format, parses, applies keepalived's defaults and
//     completion rules, and runs Validate. It returns either a usable *Config
//     or an Errors value; it never returns a half-valid configuration.
//   - Every error and warning carries FILE:LINE (the included file's name and
//     line for keepalived include files, the key's line for YAML) and says
//     what is wrong, e.g. "keepalived.conf:14: priority 300 out of range 1..255".
//   - keepalived keywords that are unknown, or known but irrelevant to
//     milvus-ha (SMTP, LVS, SNMP, ...), are Warnings. Keywords whose silent
//     omission would change failover safety (use_vmac, auth_type AH,
//     vrrp_strict, track_process, notify FIFOs, ...) are errors.
//   - Defaults are keepalived 2.2.7's: VRRPv2 for IPv4, advert_int 1 s,
//     priority 100 (255 with `state MASTER` and no priority), vrrp_script
//     interval 1 s / timeout = interval / weight 0 / rise 1 / fall 1,
//     GARP delay 5 s × 5, VIP prefix /32 (/128).
//
// The package does no I/O beyond reading the configuration files; the
// speaker and the keeper consume the model.
package config
