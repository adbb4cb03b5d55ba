package dockerhost

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// fakeServicesAPI answers from fixed lists; TaskList honours the node
// filter (every task without one).
type fakeServicesAPI struct {
	tasks          []swarm.Task
	services       []swarm.Service
	logsAsked      []string
	configs        []swarm.Config
	removedConfigs []string
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

func (f *fakeServicesAPI) ConfigList(context.Context, client.ConfigListOptions) (client.ConfigListResult, error) {
	return client.ConfigListResult{Items: f.configs}, nil
}
func (f *fakeServicesAPI) ConfigRemove(_ context.Context, id string, _ client.ConfigRemoveOptions) (client.ConfigRemoveResult, error) {
	f.removedConfigs = append(f.removedConfigs, id)
	return client.ConfigRemoveResult{}, nil
}
func (f *fakeServicesAPI) TaskLogs(_ context.Context, id string, o client.TaskLogsOptions) (client.TaskLogsResult, error) {
	f.logsAsked = append(f.logsAsked, id+" tail="+o.Tail+fmt.Sprintf(" follow=%t stdout=%t stderr=%t", o.Follow, o.ShowStdout, o.ShowStderr))
	var b bytes.Buffer
	frame(&b, 1, "out of "+id+"\n")
	frame(&b, 2, "err of "+id+"\n")
	return io.NopCloser(&b), nil
}

// frame writes one frame of Docker's multiplexed stream (stream 1 stdout,
// 2 stderr).
func frame(b *bytes.Buffer, stream byte, s string) {
	b.Write([]byte{stream, 0, 0, 0})
	_ = binary.Write(b, binary.BigEndian, uint32(len(s)))
	b.WriteString(s)
}

// TestSwarmServiceLogs: a service's logs are its current task's (the one
// to run, the newest of those; else the newest), through the manager, as
// a container's are (the lines, stdout and stderr together), tail and
// follow passed on; a service without tasks is ENOTFOUND.
func TestSwarmServiceLogs(t *testing.T) {
	at := func(m int) swarm.Meta { return swarm.Meta{CreatedAt: time.Date(2026, 12, 6, 12, m, 0, 0, time.UTC)} }
	api := &fakeServicesAPI{tasks: []swarm.Task{
		{ID: "old", ServiceID: "s1", Meta: at(1), DesiredState: swarm.TaskStateShutdown},
		{ID: "new", ServiceID: "s1", Meta: at(5), DesiredState: swarm.TaskStateRunning},
		{ID: "failed", ServiceID: "s1", Meta: at(3), DesiredState: swarm.TaskStateRunning},
		{ID: "newest-stopped", ServiceID: "s1", Meta: at(9), DesiredState: swarm.TaskStateShutdown},
	}}
	s := NewSwarm(nil)
	s.Services = api
	var out bytes.Buffer
	require.NoError(t, s.ServiceLogs(t.Context(), "websoft9-far", orchestrator.LogOptions{Tail: 5}, &out))
	assert.Equal(t, "out of new\nerr of new\n", out.String())
	require.NoError(t, s.ServiceLogs(t.Context(), "websoft9-far", orchestrator.LogOptions{Follow: true}, io.Discard))
	assert.Equal(t, []string{"new tail=5 follow=false stdout=true stderr=true", "new tail=all follow=true stdout=true stderr=true"}, api.logsAsked)

	// Stopped (scaled to 0): the last task's logs, as a stopped
	// container's.
	api.tasks = api.tasks[:1]
	out.Reset()
	require.NoError(t, s.ServiceLogs(t.Context(), "websoft9-far", orchestrator.LogOptions{}, &out))
	assert.Equal(t, "out of old\nerr of old\n", out.String())

	api.tasks = nil
	err := s.ServiceLogs(t.Context(), "websoft9-gone", orchestrator.LogOptions{}, io.Discard)
	assert.Equal(t, orchestrator.ENOTFOUND, orchestrator.ErrorCode(err), "%v", err)
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

// TestSwarmRemoveConfigs: StackHub's clean-up of an app removes the Swarm
// configs labelled with it, never another app's (the filter is checked
// again on the answer).
func TestSwarmRemoveConfigs(t *testing.T) {
	cfg := func(id, app string) swarm.Config {
		return swarm.Config{ID: id, Spec: swarm.ConfigSpec{Annotations: swarm.Annotations{Name: "websoft9-" + app + "_c-0123456789ab", Labels: map[string]string{naming.LabelApp: app}}}}
	}
	api := &fakeServicesAPI{configs: []swarm.Config{cfg("c1", "blog"), cfg("c2", "shop"), cfg("c3", "blog")}}
	s := NewSwarm(nil)
	s.Services = api
	require.NoError(t, s.removeConfigs(t.Context(), "blog"))
	assert.Equal(t, []string{"c1", "c3"}, api.removedConfigs)
}
