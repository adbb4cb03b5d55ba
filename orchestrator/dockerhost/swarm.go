package dockerhost

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/websoft9/stackhub/orchestrator"
)

// SwarmAPI is the part of the moby client the swarm uses.
type SwarmAPI interface {
	Info(ctx context.Context, options client.InfoOptions) (client.SystemInfoResult, error)
	SwarmInit(ctx context.Context, options client.SwarmInitOptions) (client.SwarmInitResult, error)
	SwarmInspect(ctx context.Context, options client.SwarmInspectOptions) (client.SwarmInspectResult, error)
	NodeList(ctx context.Context, options client.NodeListOptions) (client.NodeListResult, error)
	NodeInspect(ctx context.Context, nodeID string, options client.NodeInspectOptions) (client.NodeInspectResult, error)
	NodeUpdate(ctx context.Context, nodeID string, options client.NodeUpdateOptions) (client.NodeUpdateResult, error)
	NodeRemove(ctx context.Context, nodeID string, options client.NodeRemoveOptions) (client.NodeRemoveResult, error)
}

// Swarm implements orchestrator.Swarm over the Swarm API of one engine
// (API 1.41 is enough: nothing newer is used).
type Swarm struct {
	api SwarmAPI
	// CallTimeout bounds each call (0: callTimeout).
	CallTimeout time.Duration
	// OnError, when set, is told of every Docker call that failed.
	OnError ErrorFunc
	// Services, when set, answers the calls on the apps' services and
	// tasks (swarmapps.go: NodePorts, and removing an app's services);
	// nil: a swarm without apps placed on it.
	Services ServicesAPI
}

var (
	_ orchestrator.Swarm          = (*Swarm)(nil)
	_ orchestrator.SwarmPlacement = (*Swarm)(nil)
)

// NewSwarm returns the Swarm of the engine api speaks to.
func NewSwarm(api SwarmAPI) *Swarm { return &Swarm{api: api} }

// DefaultListenAddr is where a new manager listens for the cluster, as
// docker swarm init does: every address, the swarm port.
const DefaultListenAddr = "0.0.0.0:2377"

// classify turns a failed Swarm call into a domain error. The engine
// answers 503 when it is in no swarm or not a manager: that is a
// conflict with the swarm's state, not Docker being down; 400 (the
// engine refuses an address, a node that may not go) carries the engine's
// own reason.
func (s *Swarm) classify(op, what string, err error) error {
	if err == nil {
		return nil
	}
	if what == "" {
		what = op
	}
	switch {
	case client.IsErrConnectionFailed(err), errors.Is(err, context.DeadlineExceeded):
		return classifyErr(s.OnError, op, what, err)
	case cerrdefs.IsUnavailable(err):
		s.report(op, ErrorOther)
		return orchestrator.WrapError(orchestrator.ECONFLICT, err, "%s: the engine is not a swarm manager: %s", what, engineMessage(err))
	case cerrdefs.IsInvalidArgument(err):
		s.report(op, ErrorOther)
		return orchestrator.WrapError(orchestrator.EINVALID, err, "%s: the engine refuses: %s", what, engineMessage(err))
	case cerrdefs.IsConflict(err), cerrdefs.IsFailedPrecondition(err):
		s.report(op, ErrorOther)
		return orchestrator.WrapError(orchestrator.ECONFLICT, err, "%s: %s", what, engineMessage(err))
	}
	return classifyErr(s.OnError, op, what, err)
}

func (s *Swarm) report(op, class string) {
	if s.OnError != nil {
		s.OnError(op, class)
	}
}

// engineMessage is the engine's own words in a refusal, without the
// client's prefix or the gRPC framing of swarmkit's answers.
func engineMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), "Error response from daemon: ")
	if rest, ok := strings.CutPrefix(msg, "rpc error: "); ok {
		if _, desc, ok := strings.Cut(rest, " desc = "); ok {
			msg = desc
		}
	}
	return msg
}

func (s *Swarm) timeout() time.Duration { return orCallTimeout(s.CallTimeout) }

// SwarmStatus implements orchestrator.Swarm.
func (s *Swarm) SwarmStatus(ctx context.Context) (orchestrator.ClusterStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	info, err := s.api.Info(ctx, client.InfoOptions{})
	if err != nil {
		// Not a swarm call: a 503 here is the engine's, not the swarm's.
		return orchestrator.ClusterStatus{}, classifyErr(s.OnError, "engine info", "", err)
	}
	return clusterStatus(info.Info.Swarm), nil
}

// clusterStatus is the domain's reading of an engine's swarm info.
func clusterStatus(in swarm.Info) orchestrator.ClusterStatus {
	st := orchestrator.ClusterStatus{NodeID: in.NodeID, NodeAddr: in.NodeAddr, Error: in.Error}
	switch in.LocalNodeState {
	case swarm.LocalNodeStateActive:
		st.Swarm = orchestrator.SwarmWorker
		if in.ControlAvailable {
			st.Swarm = orchestrator.SwarmManager
			st.Nodes, st.Managers = in.Nodes, in.Managers
			if in.Cluster != nil {
				st.ClusterID = in.Cluster.ID
			}
		}
	case swarm.LocalNodeStatePending:
		st.Swarm = orchestrator.SwarmPending
	case swarm.LocalNodeStateError:
		st.Swarm = orchestrator.SwarmError
	case swarm.LocalNodeStateLocked:
		st.Swarm = orchestrator.SwarmLocked
	default: // inactive, or an engine without Swarm support ("")
		st.Swarm = orchestrator.SwarmInactive
	}
	return st
}

// InitSwarm implements orchestrator.Swarm: it listens on every address
// at the swarm port, as docker swarm init does.
func (s *Swarm) InitSwarm(ctx context.Context, advertiseAddr string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	res, err := s.api.SwarmInit(ctx, client.SwarmInitOptions{ListenAddr: DefaultListenAddr, AdvertiseAddr: advertiseAddr})
	if err == nil {
		return res.NodeID, nil
	}
	// The engine answers 503 to a second init: say it is in a swarm.
	if st, serr := s.SwarmStatus(ctx); serr == nil && st.Swarm != orchestrator.SwarmInactive {
		return "", orchestrator.WrapError(orchestrator.ECONFLICT, err, "the engine is already in a swarm (%s, node %s)", st.Swarm, st.NodeID)
	}
	if cerrdefs.IsInvalidArgument(err) && advertiseAddr == "" {
		s.report("swarm init", ErrorOther)
		return "", orchestrator.WrapError(orchestrator.EINVALID, err, "the engine cannot choose the address to advertise: %s; give one (cluster init --advertise-addr IP)", engineMessage(err))
	}
	return "", s.classify("swarm init", "", err)
}

// WorkerToken implements orchestrator.Swarm.
func (s *Swarm) WorkerToken(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	res, err := s.api.SwarmInspect(ctx, client.SwarmInspectOptions{})
	if err != nil {
		return "", s.classify("swarm inspect", "", err)
	}
	if res.Swarm.JoinTokens.Worker == "" {
		return "", fmt.Errorf("swarm inspect: the engine gave no worker token")
	}
	return res.Swarm.JoinTokens.Worker, nil
}

// Nodes implements orchestrator.Swarm.
func (s *Swarm) Nodes(ctx context.Context) ([]orchestrator.Node, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	res, err := s.api.NodeList(ctx, client.NodeListOptions{})
	if err != nil {
		return nil, s.classify("list nodes", "", err)
	}
	out := make([]orchestrator.Node, 0, len(res.Items))
	for _, n := range res.Items {
		out = append(out, toNode(n))
	}
	return out, nil
}

// toNode is the domain's view of a swarm node.
func toNode(n swarm.Node) orchestrator.Node {
	out := orchestrator.Node{
		ID:            n.ID,
		Hostname:      n.Description.Hostname,
		Role:          string(n.Spec.Role),
		Availability:  string(n.Spec.Availability),
		State:         string(n.Status.State),
		Message:       n.Status.Message,
		EngineVersion: n.Description.Engine.EngineVersion,
		Addr:          n.Status.Addr,
		CPUs:          float64(n.Description.Resources.NanoCPUs) / 1e9,
		MemoryBytes:   n.Description.Resources.MemoryBytes,
		Labels:        map[string]string{},
	}
	for k, v := range n.Spec.Labels {
		out.Labels[k] = v
	}
	if m := n.ManagerStatus; m != nil {
		out.Reachability, out.Leader = string(m.Reachability), m.Leader
		if m.Addr != "" {
			out.Addr = m.Addr // host:port, where joins and the managers go
		}
	}
	return out
}

// SetAvailability implements orchestrator.Swarm: read the node's spec
// and version, write it back with the new availability.
func (s *Swarm) SetAvailability(ctx context.Context, id, availability string) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	what := "node " + id
	n, err := s.api.NodeInspect(ctx, id, client.NodeInspectOptions{})
	if err != nil {
		return s.classify("inspect node", what, err)
	}
	spec := n.Node.Spec
	spec.Availability = swarm.NodeAvailability(availability)
	if _, err := s.api.NodeUpdate(ctx, id, client.NodeUpdateOptions{Version: n.Node.Version, Spec: spec}); err != nil {
		return s.classify("update node", what, err)
	}
	return nil
}

// RemoveNode implements orchestrator.Swarm.
func (s *Swarm) RemoveNode(ctx context.Context, id string, force bool) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	if _, err := s.api.NodeRemove(ctx, id, client.NodeRemoveOptions{Force: force}); err != nil {
		return s.classify("remove node", "node "+id, err)
	}
	return nil
}
