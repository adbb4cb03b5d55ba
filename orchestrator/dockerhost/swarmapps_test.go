package dockerhost

import (
	"context"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeServicesAPI answers from fixed lists; TaskList honours the node
// filter (every task without one).
type fakeServicesAPI struct {
	tasks    []swarm.Task
	services []swarm.Service
}

func (f *fakeServicesAPI) TaskList(_ context.Context, o client.TaskListOptions) (client.TaskListResult, error) {
	var out []swarm.Task
	for _, t := range f.tasks {
		if _, ok := o.Filters["node"][t.NodeID]; ok || len(o.Filters["node"]) == 0 {
			out = append(out, t)
		}
	}
	return client.TaskListResult{Items: out}, nil
}
func (f *fakeServicesAPI) ServiceList(context.Context, client.ServiceListOptions) (client.ServiceListResult, error) {
	return client.ServiceListResult{Items: f.services}, nil
}
func (f *fakeServicesAPI) ServiceRemove(context.Context, string, client.ServiceRemoveOptions) (client.ServiceRemoveResult, error) {
	return client.ServiceRemoveResult{}, nil
}

// TestSwarmNodePorts: a node's busy ports are those its tasks publish,
// those their services publish in host mode (a task not started yet), and
// the routing mesh's, which every node publishes.
func TestSwarmNodePorts(t *testing.T) {
	host := func(p uint32) swarm.PortConfig {
		return swarm.PortConfig{PublishedPort: p, TargetPort: 80, PublishMode: swarm.PortConfigPublishModeHost}
	}
	api := &fakeServicesAPI{
		tasks: []swarm.Task{
			{ServiceID: "s1", NodeID: "n1", Status: swarm.TaskStatus{PortStatus: swarm.PortStatus{Ports: []swarm.PortConfig{host(9001)}}}},
			{ServiceID: "s2", NodeID: "n1"},
			{ServiceID: "s3", NodeID: "n2", Status: swarm.TaskStatus{PortStatus: swarm.PortStatus{Ports: []swarm.PortConfig{host(9101)}}}},
		},
		services: []swarm.Service{
			{ID: "s1", Spec: swarm.ServiceSpec{EndpointSpec: &swarm.EndpointSpec{Ports: []swarm.PortConfig{host(9001)}}}},
			{ID: "s2", Spec: swarm.ServiceSpec{EndpointSpec: &swarm.EndpointSpec{Ports: []swarm.PortConfig{host(9002)}}}},
			{ID: "s3", Spec: swarm.ServiceSpec{EndpointSpec: &swarm.EndpointSpec{Ports: []swarm.PortConfig{host(9101)}}}},
			{ID: "s4", Endpoint: swarm.Endpoint{Ports: []swarm.PortConfig{{PublishedPort: 8080, TargetPort: 80, PublishMode: swarm.PortConfigPublishModeIngress}}}},
		},
	}
	sw := NewSwarm(&fakeSwarmAPI{})
	_, err := sw.NodePorts(t.Context(), "n1")
	require.Error(t, err, "no services API, no ports known")
	sw.Services = api
	busy, err := sw.NodePorts(t.Context(), "n1")
	require.NoError(t, err)
	assert.Equal(t, map[int]bool{9001: true, 9002: true, 8080: true}, busy)
}

// TestTaskContainers: a Swarm task's container shows under its service's
// name, one per service, the running one first.
func TestTaskContainers(t *testing.T) {
	task := func(name, svc string, state container.ContainerState, created int64) container.Summary {
		return container.Summary{Names: []string{"/" + name}, State: state, Created: created,
			Labels: map[string]string{ServiceLabel: svc}}
	}
	got := taskContainers([]container.Summary{
		{Names: []string{"/websoft9-old"}, State: container.StateExited},
		task("websoft9-demo.1.old", "websoft9-demo", container.StateExited, 1),
		task("websoft9-demo.1.new", "websoft9-demo", container.StateRunning, 2),
		task("websoft9-demo-db.1.a", "websoft9-demo-db", container.StateExited, 1),
		task("websoft9-demo-db.1.b", "websoft9-demo-db", container.StateExited, 3),
	})
	var names []string
	for _, c := range got {
		oc := toContainer(c)
		names = append(names, oc.Name+" "+oc.State)
	}
	assert.Equal(t, []string{"websoft9-old exited", "websoft9-demo running", "websoft9-demo-db exited"}, names)
	assert.EqualValues(t, 3, got[2].Created, "the newest of the stopped ones")
}
