package web

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/web/wire"
)

// ClusterService manages the Docker Swarm the server's engine may lead
// (orchestrator.Cluster).
type ClusterService interface {
	Status(ctx context.Context) (orchestrator.ClusterStatus, error)
	Init(ctx context.Context, req orchestrator.ClusterInitRequest) (orchestrator.ClusterStatus, error)
	JoinCommand(ctx context.Context) (orchestrator.JoinCommand, error)
	Nodes(ctx context.Context) ([]orchestrator.Node, error)
	Drain(ctx context.Context, req orchestrator.NodeChange) (orchestrator.Node, error)
	Activate(ctx context.Context, req orchestrator.NodeChange) (orchestrator.Node, error)
	Remove(ctx context.Context, req orchestrator.NodeChange) (orchestrator.Node, error)
}

func (s *Server) registerClusterRoutes(g *echo.Group) {
	g.GET("/cluster", s.getCluster)
	g.POST("/cluster/init", s.initCluster)
	g.GET("/cluster/join", s.getJoinCommand)
	g.GET("/nodes", s.listNodes)
	g.POST("/nodes/:id/drain", s.drainNode)
	g.POST("/nodes/:id/activate", s.activateNode)
	g.DELETE("/nodes/:id", s.removeNode)
}

// noCluster is the cluster of a server built without one: never a swarm.
type noCluster struct{}

func (noCluster) Status(context.Context) (orchestrator.ClusterStatus, error) {
	return orchestrator.ClusterStatus{Swarm: orchestrator.SwarmInactive}, nil
}

func (noCluster) Init(context.Context, orchestrator.ClusterInitRequest) (orchestrator.ClusterStatus, error) {
	return orchestrator.ClusterStatus{}, errNoCluster
}

func (noCluster) JoinCommand(context.Context) (orchestrator.JoinCommand, error) {
	return orchestrator.JoinCommand{}, errNotASwarm
}

func (noCluster) Nodes(context.Context) ([]orchestrator.Node, error) { return nil, errNotASwarm }

func (noCluster) Drain(context.Context, orchestrator.NodeChange) (orchestrator.Node, error) {
	return orchestrator.Node{}, errNotASwarm
}

func (noCluster) Activate(context.Context, orchestrator.NodeChange) (orchestrator.Node, error) {
	return orchestrator.Node{}, errNotASwarm
}

func (noCluster) Remove(context.Context, orchestrator.NodeChange) (orchestrator.Node, error) {
	return orchestrator.Node{}, errNotASwarm
}

var (
	errNoCluster = orchestrator.Errorf(orchestrator.EUNAVAILABLE, "this server runs without cluster support")
	errNotASwarm = orchestrator.Errorf(orchestrator.ECONFLICT, "not a swarm: this server runs apps on one host")
)

func (s *Server) cluster() ClusterService {
	if s.Cluster == nil {
		return noCluster{}
	}
	return s.Cluster
}

func toCluster(st orchestrator.ClusterStatus) wire.Cluster {
	return wire.Cluster{Swarm: st.Swarm, NodeID: st.NodeID, NodeAddr: st.NodeAddr, ClusterID: st.ClusterID,
		Nodes: st.Nodes, Managers: st.Managers, Reason: st.Error}
}

func toNode(n orchestrator.Node) wire.Node {
	out := wire.Node{ID: n.ID, Hostname: n.Hostname, Role: n.Role, Leader: n.Leader, Availability: n.Availability,
		State: n.State, Message: n.Message, Reachability: n.Reachability, EngineVersion: n.EngineVersion, Addr: n.Addr,
		CPUs: n.CPUs, MemoryBytes: n.MemoryBytes, Labels: map[string]string{}, Self: n.Self, Apps: n.Apps}
	for k, v := range n.Labels {
		out.Labels[k] = v
	}
	if n.Disk != nil {
		out.Disk = &wire.NodeDisk{Total: n.Disk.Total, Used: n.Disk.Used}
	}
	return out
}

// getCluster serves GET /api/v1/cluster: inactive on a host that never
// made a cluster.
func (s *Server) getCluster(c echo.Context) error {
	st, err := s.cluster().Status(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toCluster(st))
}

// initCluster serves POST /api/v1/cluster/init {advertiseAddr}: the
// server's engine becomes a swarm manager; 409 when it is in a swarm.
func (s *Server) initCluster(c echo.Context) error {
	var body wire.ClusterInit
	if err := decodeStrict(c, &body); err != nil {
		return err
	}
	st, err := s.cluster().Init(c.Request().Context(), orchestrator.ClusterInitRequest{AdvertiseAddr: body.AdvertiseAddr})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toCluster(st))
}

// getJoinCommand serves GET /api/v1/cluster/join (admins): the command
// with the worker token. The answer is never stored by a cache.
func (s *Server) getJoinCommand(c echo.Context) error {
	j, err := s.cluster().JoinCommand(c.Request().Context())
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, wire.JoinCommand{Command: j.String(), Argv: j.Argv(), Token: j.Token, Addr: j.Addr})
}

// listNodes serves GET /api/v1/nodes: 409 "not a swarm" on a host that
// never made a cluster.
func (s *Server) listNodes(c echo.Context) error {
	nodes, err := s.cluster().Nodes(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]wire.Node, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, toNode(n))
	}
	return c.JSON(http.StatusOK, out)
}

// nodeChange reads the node and ?force= of a node route.
func nodeChange(c echo.Context) (orchestrator.NodeChange, error) {
	req := orchestrator.NodeChange{Node: c.Param("id")}
	if v := c.QueryParam("force"); v != "" {
		b, err := asBool("force", queryValue(v))
		if err != nil {
			return req, err
		}
		req.Force = b
	}
	return req, nil
}

// changeNode serves a route that changes one node and answers it as it
// is afterwards.
func (s *Server) changeNode(c echo.Context, change func(context.Context, orchestrator.NodeChange) (orchestrator.Node, error)) error {
	req, err := nodeChange(c)
	if err != nil {
		return err
	}
	n, err := change(c.Request().Context(), req)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toNode(n))
}

// drainNode serves POST /api/v1/nodes/{id}/drain?force=.
func (s *Server) drainNode(c echo.Context) error { return s.changeNode(c, s.cluster().Drain) }

// activateNode serves POST /api/v1/nodes/{id}/activate.
func (s *Server) activateNode(c echo.Context) error { return s.changeNode(c, s.cluster().Activate) }

// removeNode serves DELETE /api/v1/nodes/{id}?force=: it answers the node
// as it was.
func (s *Server) removeNode(c echo.Context) error { return s.changeNode(c, s.cluster().Remove) }
