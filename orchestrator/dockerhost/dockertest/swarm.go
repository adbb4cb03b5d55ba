package dockertest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// SwarmPort is the port a manager listens on for nodes and managers.
const SwarmPort = 2377

// The harness never makes a Swarm by itself: StackHub's `cluster init` is
// under test. These helpers are for tests that need a ready Swarm to test
// something else.

// StartSwarm is StartCluster with a ready Swarm, for tests that need one
// to test something else: node 1 its manager, the others workers, every
// node ready.
func StartSwarm(tb testing.TB, n int, images ...string) *Cluster {
	tb.Helper()
	c := StartCluster(tb, n, images...)
	if _, _, err := c.InitSwarm(tb.Context()); err != nil {
		tb.Fatal(err)
	}
	if err := c.JoinAll(tb.Context()); err != nil {
		tb.Fatal(err)
	}
	return c
}

// InitSwarm makes node 1 a Swarm manager listening and advertising on its
// Addr:2377 (its data path on Addr too) and returns that address and the
// worker join token. opts may change the request, e.g. the dispatcher's
// heartbeat period in Spec; fields left zero get Docker's defaults.
func (c *Cluster) InitSwarm(ctx context.Context, opts ...func(*client.SwarmInitOptions)) (managerAddr, workerToken string, err error) {
	m := c.Nodes[0]
	managerAddr = net.JoinHostPort(m.Addr.String(), strconv.Itoa(SwarmPort))
	req := client.SwarmInitOptions{ListenAddr: managerAddr, AdvertiseAddr: managerAddr, DataPathAddr: m.Addr.String()}
	for _, o := range opts {
		o(&req)
	}
	cli, err := m.Client()
	if err != nil {
		return "", "", err
	}
	defer cli.Close()
	if _, err := cli.SwarmInit(ctx, req); err != nil {
		return "", "", fmt.Errorf("swarm init on %s: %w", m.Name, err)
	}
	sw, err := cli.SwarmInspect(ctx, client.SwarmInspectOptions{})
	if err != nil {
		return "", "", fmt.Errorf("swarm inspect on %s: %w", m.Name, err)
	}
	return managerAddr, sw.Swarm.JoinTokens.Worker, nil
}

// JoinAll joins nodes 2..n to node 1's Swarm as workers (InitSwarm first)
// and waits until the manager lists every node ready.
func (c *Cluster) JoinAll(ctx context.Context) error {
	m, err := c.Nodes[0].Client()
	if err != nil {
		return err
	}
	defer m.Close()
	sw, err := m.SwarmInspect(ctx, client.SwarmInspectOptions{})
	if err != nil {
		return fmt.Errorf("join all: node 1 is not a manager (InitSwarm first): %w", err)
	}
	addr := net.JoinHostPort(c.Nodes[0].Addr.String(), strconv.Itoa(SwarmPort))
	for _, n := range c.Nodes[1:] {
		if err := n.Join(ctx, addr, sw.Swarm.JoinTokens.Worker); err != nil {
			return err
		}
	}
	return c.WaitNodes(ctx, len(c.Nodes))
}

// Join joins node to the Swarm whose manager listens at managerAddr,
// listening and advertising on its own Addr.
func (n *Node) Join(ctx context.Context, managerAddr, token string) error {
	cli, err := n.Client()
	if err != nil {
		return err
	}
	defer cli.Close()
	self := net.JoinHostPort(n.Addr.String(), strconv.Itoa(SwarmPort))
	_, err = cli.SwarmJoin(ctx, client.SwarmJoinOptions{
		ListenAddr: self, AdvertiseAddr: self, DataPathAddr: n.Addr.String(),
		RemoteAddrs: []string{managerAddr}, JoinToken: token,
	})
	if err != nil {
		return fmt.Errorf("swarm join %s to %s: %w", n.Name, managerAddr, err)
	}
	return nil
}

// Leave takes node out of its Swarm (force: a last manager may leave too).
func (n *Node) Leave(ctx context.Context) error {
	cli, err := n.Client()
	if err != nil {
		return err
	}
	defer cli.Close()
	if _, err := cli.SwarmLeave(ctx, client.SwarmLeaveOptions{Force: true}); err != nil {
		return fmt.Errorf("swarm leave %s: %w", n.Name, err)
	}
	return nil
}

// SwarmNodeID returns node's ID in its Swarm, for placement constraints
// (node.id==<ID>); "" when it is in none.
func (n *Node) SwarmNodeID(ctx context.Context) (string, error) {
	cli, err := n.Client()
	if err != nil {
		return "", err
	}
	defer cli.Close()
	info, err := cli.Info(ctx, client.InfoOptions{})
	if err != nil {
		return "", fmt.Errorf("info %s: %w", n.Name, err)
	}
	return info.Info.Swarm.NodeID, nil
}

// WaitNodes waits until node 1, a manager, lists want nodes, all ready.
func (c *Cluster) WaitNodes(ctx context.Context, want int) error {
	cli, err := c.Nodes[0].Client()
	if err != nil {
		return err
	}
	defer cli.Close()
	var last error
	for {
		nodes, err := cli.NodeList(ctx, client.NodeListOptions{})
		ready := 0
		for _, n := range nodes.Items {
			if n.Status.State == swarm.NodeStateReady {
				ready++
			}
		}
		switch {
		case err != nil:
			last = err
		case len(nodes.Items) == want && ready == want:
			return nil
		default:
			last = fmt.Errorf("%d nodes, %d ready", len(nodes.Items), ready)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %d ready nodes: %w", want, errors.Join(ctx.Err(), last))
		case <-time.After(200 * time.Millisecond):
		}
	}
}
