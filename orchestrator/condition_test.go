package orchestrator

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCondition(t *testing.T) {
	running := Installation{Name: "blog", State: StateRunning, Containers: []string{"websoft9-blog", "websoft9-blog-db"}}
	assert.Equal(t, Condition{State: "running", Running: true, Detail: "running"}, running.Condition())

	observed := running
	observed.ObservedKnown = true
	observed.Observed = []Container{{Name: "websoft9-blog", State: "running"}, {Name: "websoft9-blog-db", State: "exited"}}
	assert.Equal(t, Condition{State: ConditionStopped, Detail: "not running: websoft9-blog-db (exited)"}, observed.Condition(),
		"a container stopped by hand shows the app stopped")
	observed.Observed = observed.Observed[:1]
	assert.Equal(t, "not running: websoft9-blog-db (missing)", observed.Condition().Detail, "a container removed by hand")

	failed := Installation{State: StateFailed, Reason: "websoft9-blog exited (1)"}
	assert.Equal(t, Condition{State: "failed", Detail: "websoft9-blog exited (1)"}, failed.Condition())

	busy := running
	busy.Active = ActionUpgrade
	assert.Equal(t, "upgrade in progress", busy.Condition().Detail)

	// On a Swarm node the manager no longer hears from: unreachable,
	// whatever its tasks last said; ready again, the tasks tell.
	remote := running
	remote.Node = Placement{NodeID: "n3", Hostname: "three", Addr: "10.0.0.3"}
	remote.ObservedKnown = true
	remote.Observed = []Container{{Name: "websoft9-blog", State: "running"}, {Name: "websoft9-blog-db", State: "running"}}
	remote.NodeState, remote.NodeMessage = "down", "heartbeat failure"
	assert.True(t, remote.Unreachable())
	assert.Equal(t, Condition{State: ConditionUnreachable, Detail: "node three is down: the app cannot be reached (heartbeat failure)"}, remote.Condition())
	remote.NodeState, remote.NodeMessage = NodeReady, ""
	assert.False(t, remote.Unreachable())
	assert.Equal(t, Condition{State: "running", Running: true, Detail: "running"}, remote.Condition())
	remote.Observed[1].State = "pending"
	assert.Equal(t, Condition{State: ConditionStopped, Detail: "not running: websoft9-blog-db (pending)"}, remote.Condition(), "back, its task not running yet")
	remote.NodeState = ""
	assert.False(t, remote.Unreachable(), "unknown is not unreachable")
}

func TestUpgrades(t *testing.T) {
	app := App{Name: "blog", Version: "1.2.0"}
	assert.True(t, app.Upgrades(Installation{App: "blog", Version: "1.1.9"}))
	assert.False(t, app.Upgrades(Installation{App: "blog", Version: "1.2.0"}))
	assert.False(t, app.Upgrades(Installation{App: "blog", Version: "1.10.0"}), "by number, not text")
	assert.False(t, app.Upgrades(Installation{App: "wiki", Version: "0.1.0"}), "another app")
}
