package keeper

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/milvus-ha/milvus-ha/internal/config"
	"github.com/milvus-ha/milvus-ha/internal/health"
)

// Results of the checks drive the speaker the way checkPolicy and
// keepalived's weights say.
func TestCheckResultsDriveTheSpeaker(t *testing.T) {
	k, sp := testKeeper(t, "")
	weighted := &checkDef{cfg: config.Check{Name: "gw", Kind: config.CheckTCP, Scope: config.ScopeNode, Weight: -20}}
	node := &checkDef{cfg: config.Check{Name: "disk", Kind: config.CheckScript, Scope: config.ScopeNode}}
	k.checks = append(k.checks, weighted, node)
	svc := k.checks[0] // the keeper's own service check
	ctx := t.Context()
	result := func(d *checkDef, st health.State, err error) {
		k.onCheckResult(ctx, d, health.Result{State: st, Err: err, Changed: true})
	}

	result(weighted, health.Failed, errors.New("refused"))
	if got := sp.tracks["check gw"]; got != "-20 false" {
		t.Fatalf("weighted check not tracked: %q", got)
	}
	if sp.inhibits[reasonChecks] {
		t.Fatal("a weighted check put the node on hold")
	}

	// A backup with a failing node check is held out; recovery lifts it.
	result(node, health.Failed, errors.New("exit 1"))
	if !sp.inhibits[reasonChecks] {
		t.Fatal("backup with a failing weight-0 node check not held out")
	}
	result(node, health.OK, nil)
	if sp.inhibits[reasonChecks] {
		t.Fatal("hold not lifted after recovery")
	}

	// Active, service fails, no standby: stays; standby appears: hands over.
	makeMaster(k, sp)
	svc.status.Running = true
	result(svc, health.Failed, errors.New("connection refused"))
	if sp.inhibits[reasonChecks] || !strings.Contains(k.Status().Hold, "no ready standby") {
		t.Fatalf("handed over without a standby; hold %q", k.Status().Hold)
	}
	peerSeen(k, 0)
	k.evaluate(ctx)
	if !sp.inhibits[reasonChecks] {
		t.Fatal("did not hand over to the ready standby")
	}
	var handover bool
	for _, e := range k.Status().Events {
		handover = handover || e.Kind == "handover" && strings.Contains(e.Detail, "check service (connection refused)")
	}
	if !handover {
		t.Fatalf("no handover event: %+v", k.Status().Events)
	}
	// After leaving MASTER the service check stops; the hold stays.
	k.active = false
	k.setCheck(svc, health.Unknown, nil)
	k.evaluate(ctx)
	if !sp.inhibits[reasonChecks] || !strings.Contains(k.Status().Hold, "service failed here") {
		t.Fatalf("hold after a service failure: %v %q", sp.inhibits, k.Status().Hold)
	}
	k.policy.holdUntil = time.Now().Add(-time.Second)
	k.evaluate(ctx)
	if sp.inhibits[reasonChecks] {
		t.Fatal("hold not lifted after it expired")
	}
}

// A crash the driver reports fails the service check at once, but only
// while the check runs (on the active node).
func TestServiceFailedNow(t *testing.T) {
	k, _ := testKeeper(t, "")
	svc := k.checks[0]
	k.serviceFailed("exited: pid 1 killed by signal 9")
	if svc.state != health.Unknown {
		t.Fatalf("a crash report on a standby failed the check: %v", svc.state)
	}
	svc.status.Running = true
	k.serviceFailed("exited: pid 1 killed by signal 9")
	if svc.state != health.Failed || !strings.Contains(k.checkStatuses()[0].Detail, "signal 9") {
		t.Fatalf("crash not recorded: %+v", k.checkStatuses()[0])
	}
}
