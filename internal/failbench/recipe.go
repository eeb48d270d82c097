package failbench

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
)

// recipeFiles renders the recipe rebuilt for the lab: its two
// keepalived.conf files (router_id, state, priority, auth and script lines
// as in the recipe; interface and VIP of the lab; advert_int and VRRP
// version left at keepalived's defaults, 1 s and v2, as the recipe does),
// its check script on the master and its notify scripts on the backup.
//
// The stand-in for "docker start/stop <milvus>" is `milvus-ha serve` on the
// shared directory, started in the background with its PID in
// <dir>/<host>-serve.pid. The recipe's stop script runs `docker start`
// (a typo); ours stops the server, which is what the text says it does.
type recipeFiles struct {
	dir    string // scripts, configurations, PID files, logs
	binary string // milvus-ha
	data   string // shared data directory
	vip    netip.Addr
	// serveArgs are extra `serve` flags (lease timing).
	serveArgs []string
}

func (f recipeFiles) confPath(host string) string {
	return filepath.Join(f.dir, host+"-keepalived.conf")
}
func (f recipeFiles) pidPath(host string) string { return filepath.Join(f.dir, host+"-serve.pid") }
func (f recipeFiles) logPath(host string) string { return filepath.Join(f.dir, host+"-serve.log") }
func (f recipeFiles) script(name string) string  { return filepath.Join(f.dir, name) }

// masterConf is the recipe's master: state MASTER, priority 110, the
// check script with weight -20, no notify scripts (its server runs all the
// time, started by hand).
func (f recipeFiles) masterConf() string {
	return fmt.Sprintf(`! Configuration File for keepalived
global_defs {
  router_id sol01
}

vrrp_script chk_milvus {
  script "%s"
  interval 2
  weight -20
}

vrrp_instance VI_SERVER {
  state MASTER
  interface eth0
  virtual_router_id 51
  priority 110
  authentication {
    auth_type PASS
    auth_pass 1111
  }
  virtual_ipaddress {
    %v/24
  }
  track_script {
    chk_milvus
  }
}
`, f.script("chk_milvus.sh"), f.vip)
}

// backupConf is the recipe's backup: state BACKUP, priority 91, notify
// scripts that start the server on MASTER and stop it on BACKUP.
func (f recipeFiles) backupConf() string {
	return fmt.Sprintf(`! Configuration File for keepalived
global_defs {
  router_id sol02
}

vrrp_instance VI_SERVER {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority 91
  authentication {
    auth_type PASS
    auth_pass 1111
  }
  virtual_ipaddress {
    %v/24
  }

  notify_master "%s master"
  notify_backup "%s backup"
}
`, f.vip, f.script("start_serve.sh"), f.script("stop_serve.sh"))
}

// checkScript fails when the master's server is not running (the recipe
// asks docker whether the container runs; here the PID file's process).
func (f recipeFiles) checkScript() string {
	return fmt.Sprintf(`#!/bin/sh
pid=$(cat %s 2>/dev/null) || exit 1
kill -0 "$pid" 2>/dev/null || exit 1
`, f.pidPath("a"))
}

// startScript cold-starts the backup's server unless it runs.
func (f recipeFiles) startScript() string {
	args := append([]string{f.binary, "serve", "--data", f.data, "--node-id", "b"}, f.serveArgs...)
	return fmt.Sprintf(`#!/bin/sh
pid=$(cat %[1]s 2>/dev/null) && kill -0 "$pid" 2>/dev/null && exit 0
setsid %[2]s >>%[3]s 2>&1 </dev/null &
echo $! >%[1]s
`, f.pidPath("b"), strings.Join(args, " "), f.logPath("b"))
}

// stopScript stops the backup's server if it runs.
func (f recipeFiles) stopScript() string {
	return fmt.Sprintf(`#!/bin/sh
pid=$(cat %s 2>/dev/null) || exit 0
kill "$pid" 2>/dev/null
exit 0
`, f.pidPath("b"))
}
