package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/websoft9/stackhub/web/wire"
)

// The cluster's JSON shapes (package web/wire), shared with the server.
type (
	Cluster     = wire.Cluster
	JoinCommand = wire.JoinCommand
	Node        = wire.Node
	NodeDisk    = wire.NodeDisk
)

// Cluster says where the server's engine stands in a Docker Swarm (GET
// /api/v1/cluster): Swarm "inactive" on a server that never ran cluster
// init.
func (c *Client) Cluster(ctx context.Context) (Cluster, error) {
	var out Cluster
	_, err := c.callJSON(ctx, http.MethodGet, "/api/v1/cluster", nil, nil, &out)
	return out, err
}

// InitCluster makes the server's engine the manager of a new swarm
// advertising advertiseAddr ("" lets the engine choose) with POST
// /api/v1/cluster/init (admins). 409 when it is already in a swarm, 400
// for an address that is not an IP.
func (c *Client) InitCluster(ctx context.Context, advertiseAddr string) (Cluster, error) {
	var out Cluster
	_, err := c.callJSON(ctx, http.MethodPost, "/api/v1/cluster/init", nil, wire.ClusterInit{AdvertiseAddr: advertiseAddr}, &out)
	return out, err
}

// JoinCommand returns the command a new machine runs to join the swarm as
// a worker (GET /api/v1/cluster/join, admins). Its token is a secret.
func (c *Client) JoinCommand(ctx context.Context) (JoinCommand, error) {
	var out JoinCommand
	_, err := c.callJSON(ctx, http.MethodGet, "/api/v1/cluster/join", nil, nil, &out)
	return out, err
}

// Nodes lists the swarm's nodes (GET /api/v1/nodes); 409 when the server
// is not a swarm manager.
func (c *Client) Nodes(ctx context.Context) ([]Node, error) {
	var out []Node
	_, err := c.callJSON(ctx, http.MethodGet, "/api/v1/nodes", nil, nil, &out)
	return out, err
}

// forceQuery is ?force=true, or nothing.
func forceQuery(force bool) url.Values {
	if !force {
		return nil
	}
	return url.Values{"force": {"true"}}
}

// nodePath is node ref's path (an ID, an ID prefix or a hostname).
func nodePath(ref string) string { return "/api/v1/nodes/" + url.PathEscape(ref) }

// DrainNode drains node ref (POST /api/v1/nodes/{id}/drain, admins); force
// drains the swarm's last active node too.
func (c *Client) DrainNode(ctx context.Context, ref string, force bool) (Node, error) {
	var out Node
	_, err := c.callJSON(ctx, http.MethodPost, nodePath(ref)+"/drain", forceQuery(force), nil, &out)
	return out, err
}

// ActivateNode makes node ref active again (POST
// /api/v1/nodes/{id}/activate, admins).
func (c *Client) ActivateNode(ctx context.Context, ref string) (Node, error) {
	var out Node
	_, err := c.callJSON(ctx, http.MethodPost, nodePath(ref)+"/activate", nil, nil, &out)
	return out, err
}

// RemoveNode removes node ref from the swarm (DELETE /api/v1/nodes/{id},
// admins) and returns it as it was; force removes a node that is still
// ready or holds apps.
func (c *Client) RemoveNode(ctx context.Context, ref string, force bool) (Node, error) {
	var out Node
	_, err := c.callJSON(ctx, http.MethodDelete, nodePath(ref), forceQuery(force), nil, &out)
	return out, err
}
