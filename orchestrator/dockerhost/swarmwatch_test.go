package dockerhost

import (
	"log/slog"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// TestServiceContainer: a service shows as a container named as the
// service, in the state of its newest task that should run (running with
// a passed health check is healthy), exited when scaled to 0, missing
// when no task should run.
func TestServiceContainer(t *testing.T) {
	one, zero := uint64(1), uint64(0)
	hc := &container.HealthConfig{Test: []string{"CMD", "/testapp", "probe", "http", "http://127.0.0.1:8080/"}}
	svc := func(replicas *uint64, check *container.HealthConfig) swarm.Service {
		return swarm.Service{ID: "s1", Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "websoft9-blog"},
			Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: replicas}},
			TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Healthcheck: check}}}}
	}
	at := func(sec int) swarm.Meta { return swarm.Meta{CreatedAt: time.Unix(int64(sec), 0)} }
	task := func(sec int, desired, state swarm.TaskState, ports ...uint32) swarm.Task {
		t := swarm.Task{Meta: at(sec), ServiceID: "s1", DesiredState: desired, Status: swarm.TaskStatus{State: state}}
		for _, p := range ports {
			t.Status.PortStatus.Ports = append(t.Status.PortStatus.Ports, swarm.PortConfig{PublishedPort: p, TargetPort: 8080})
		}
		return t
	}
	tests := []struct {
		name  string
		svc   swarm.Service
		tasks []swarm.Task
		want  orchestrator.Container
	}{
		{"running and healthy", svc(&one, hc), []swarm.Task{
			task(1, swarm.TaskStateShutdown, swarm.TaskStateFailed),
			task(2, swarm.TaskStateRunning, swarm.TaskStateRunning, 9001, 9001),
		}, orchestrator.Container{Name: "websoft9-blog", State: "running", Health: "healthy", Ports: []int{9001}}},
		{"running without a check", svc(&one, nil), []swarm.Task{task(2, swarm.TaskStateRunning, swarm.TaskStateRunning)},
			orchestrator.Container{Name: "websoft9-blog", State: "running"}},
		{"the newest task is pending", svc(&one, hc), []swarm.Task{
			task(3, swarm.TaskStateRunning, swarm.TaskStatePending),
			task(2, swarm.TaskStateRunning, swarm.TaskStateRunning, 9001),
		}, orchestrator.Container{Name: "websoft9-blog", State: "pending"}},
		{"scaled to 0", svc(&zero, hc), []swarm.Task{task(2, swarm.TaskStateShutdown, swarm.TaskStateShutdown)},
			orchestrator.Container{Name: "websoft9-blog", State: "exited"}},
		{"no task should run", svc(&one, hc), []swarm.Task{task(2, swarm.TaskStateShutdown, swarm.TaskStateComplete)},
			orchestrator.Container{Name: "websoft9-blog", State: "missing"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, serviceContainer(tc.svc, tc.tasks))
		})
	}
}

// TestSwarmWatcher: on a manager the watcher knows the nodes (a node the
// Swarm no longer has is "removed") and the apps' services; a node going
// down moves its version; an engine that is no manager forgets it all.
func TestSwarmWatcher(t *testing.T) {
	one := uint64(1)
	api := &fakeSwarmAPI{
		info: swarm.Info{LocalNodeState: swarm.LocalNodeStateActive, ControlAvailable: true, NodeID: "n1"},
		node: swarm.Node{ID: "n2", Description: swarm.NodeDescription{Hostname: "two"}, Status: swarm.NodeStatus{State: swarm.NodeStateReady}},
	}
	services := &fakeServicesAPI{
		services: []swarm.Service{{ID: "s1", Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "websoft9-blog", Labels: map[string]string{naming.LabelApp: "blog"}},
			Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}}}}},
		tasks: []swarm.Task{{ServiceID: "s1", NodeID: "n2", DesiredState: swarm.TaskStateRunning, Status: swarm.TaskStatus{State: swarm.TaskStateRunning}}},
	}
	sw := NewSwarm(api)
	sw.Services = services
	w := NewSwarmWatcher(sw, slog.New(slog.DiscardHandler))
	_, ok := w.SwarmNode("n2")
	assert.False(t, ok, "nothing known before the first list")

	manager, err := w.poll(t.Context())
	require.NoError(t, err)
	assert.True(t, manager)
	v := w.Version()
	n, ok := w.SwarmNode("n2")
	require.True(t, ok)
	assert.Equal(t, "ready", n.State)
	n, ok = w.SwarmNode("gone")
	require.True(t, ok)
	assert.Equal(t, orchestrator.NodeRemoved, n.State)
	cs, ok := w.AppTasks("blog")
	require.True(t, ok)
	assert.Equal(t, []orchestrator.Container{{Name: "websoft9-blog", State: "running"}}, cs)

	_, err = w.poll(t.Context())
	require.NoError(t, err)
	assert.Equal(t, v, w.Version(), "nothing changed")

	api.node.Status = swarm.NodeStatus{State: swarm.NodeStateDown, Message: "heartbeat failure"}
	_, err = w.poll(t.Context())
	require.NoError(t, err)
	assert.Greater(t, w.Version(), v)
	n, _ = w.SwarmNode("n2")
	assert.Equal(t, "down", n.State)
	assert.Equal(t, "heartbeat failure", n.Message)

	v = w.Version()
	services.tasks[0].Status.State = swarm.TaskStateStarting
	require.NoError(t, w.Refresh(t.Context(), "blog"))
	assert.Greater(t, w.Version(), v, "a refresh that sees a change moves the version")
	cs, _ = w.AppTasks("blog")
	assert.Equal(t, "starting", cs[0].State)

	api.info = swarm.Info{LocalNodeState: swarm.LocalNodeStateInactive}
	manager, err = w.poll(t.Context())
	require.NoError(t, err)
	assert.False(t, manager)
	_, ok = w.SwarmNode("n2")
	assert.False(t, ok, "no swarm: nothing known")
}
