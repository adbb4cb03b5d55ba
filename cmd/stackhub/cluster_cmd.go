package main

import (
	"cmp"
	"fmt"
	"io"
	"strings"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	apiclient "github.com/websoft9/stackhub/web/client"
)

// The cluster's shapes, as the client gives them.
type (
	Cluster     = apiclient.Cluster
	JoinCommand = apiclient.JoinCommand
	Node        = apiclient.Node
)

// newClusterCmd is `stackhub cluster init|status`: the server's engine as
// the manager of a Docker Swarm.
func newClusterCmd(getenv env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Make the server's Docker engine the manager of a Swarm, or show where it stands",
		Long: `Run apps on more than one machine: cluster init makes the server's Docker
engine the manager of a new Docker Swarm; stackhub node add then tells how
to join more machines. A server that never runs cluster init stays a
single host, exactly as before. See stackhub --help for how the server and
token are found.`,
		RunE: groupRunE,
	}
	o := newRemoteOptions(cmd, getenv)
	var advertise string
	initCmd := &cobra.Command{
		Use:   "init",
		Short: "Make the server's Docker engine the manager of a new Swarm (admins)",
		Long: `Make the server's Docker engine the manager of a new Docker Swarm. The
other machines reach it at --advertise-addr (an IP, or IP:port for a port
other than 2377); without it the engine chooses, and refuses when the host
has several addresses. Exit code 4 when the engine is already in a swarm.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			st, err := c.InitCluster(cmd.Context(), advertise)
			if err != nil {
				return fmt.Errorf("cluster init: %w", err)
			}
			return o.render(cmd.OutOrStdout(), st, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "The server's Docker engine is now the manager of a swarm (node %s, at %s).\nAdd a machine: stackhub node add\n", st.NodeID, st.NodeAddr)
				return err
			})
		},
	}
	initCmd.Flags().StringVar(&advertise, "advertise-addr", "", "the IP (or IP:port) the other machines reach this one at (default: the engine's choice)")
	status := &cobra.Command{
		Use:   "status",
		Short: "Show whether the server's engine is in a Swarm, and as what",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			st, err := c.Cluster(cmd.Context())
			if err != nil {
				return fmt.Errorf("cluster status: %w", err)
			}
			return o.render(cmd.OutOrStdout(), st, func(w io.Writer) error { return printCluster(w, st) })
		},
	}
	cmd.AddCommand(initCmd, status)
	return cmd
}

func printCluster(w io.Writer, st Cluster) error {
	t := table(w)
	switch st.Swarm {
	case "inactive":
		fmt.Fprintf(t, "Swarm:\tinactive (one host; stackhub cluster init starts a cluster)\n")
	case "manager":
		fmt.Fprintf(t, "Swarm:\tmanager\n")
		fmt.Fprintf(t, "Node:\t%s\n", st.NodeID)
		fmt.Fprintf(t, "Address:\t%s\n", st.NodeAddr)
		fmt.Fprintf(t, "Nodes:\t%d (%d manager%s)\n", st.Nodes, st.Managers, plural(st.Managers))
	default:
		fmt.Fprintf(t, "Swarm:\t%s\n", st.Swarm)
		if st.NodeID != "" {
			fmt.Fprintf(t, "Node:\t%s\n", st.NodeID)
		}
		if st.Reason != "" {
			fmt.Fprintf(t, "Reason:\t%s\n", st.Reason)
		}
	}
	return t.Flush()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// newNodeCmd is `stackhub node add|list|drain|activate|remove`: the
// machines of the server's Swarm.
func newNodeCmd(getenv env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Add, list, drain, activate and remove the machines of the server's Swarm",
		Long: `Manage the machines of the Swarm the server's engine manages (stackhub
cluster init makes one). A node is named by its ID, a unique prefix of it,
or its hostname. On a server that is not a swarm these commands exit with
code 4. See stackhub --help for how the server and token are found.`,
		RunE: groupRunE,
	}
	o := newRemoteOptions(cmd, getenv)
	add := &cobra.Command{
		Use:   "add",
		Short: "Print the command that joins a new machine to the Swarm (admins)",
		Long: `Print the command to run on a new machine to join it to the swarm as a
worker. It holds the swarm's worker token: whoever has it can add machines,
so keep it to yourself. -o json gives the command, its arguments, the token
and the manager's address.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			j, err := c.JoinCommand(cmd.Context())
			if err != nil {
				return fmt.Errorf("node add: %w", err)
			}
			return o.render(cmd.OutOrStdout(), j, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "Run this on the new machine:\n\n    %s\n\nThe new machine needs Docker (apt-get install docker.io) and must reach %s; then stackhub node list shows it.\n"+
					"Load StackHub's volume helper on it too (backups, moves and purges of its apps; nothing is pulled), from the server's machine:\n\n    %s\n",
					j.Command, j.Addr, volumeHelperLoad)
				return err
			})
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the Swarm's nodes with their resources and apps",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			nodes, err := c.Nodes(cmd.Context())
			if err != nil {
				return fmt.Errorf("node list: %w", err)
			}
			return o.render(cmd.OutOrStdout(), nodes, func(w io.Writer) error { return printNodes(w, nodes) })
		},
	}
	var drainForce bool
	drain := &cobra.Command{
		Use:   "drain ID|HOSTNAME",
		Short: "Stop running apps on a node and place no new ones there (admins)",
		Long: `Drain a node: the swarm stops the tasks on it (the apps placed there stop
until the node is active again: their volumes are on it) and places no new
app there. The swarm's last active node is refused unless --force.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			n, err := c.DrainNode(cmd.Context(), args[0], drainForce)
			if err != nil {
				return fmt.Errorf("drain node %s: %w", args[0], err)
			}
			return o.render(cmd.OutOrStdout(), n, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "Node %s is drained: %s; stackhub node activate %s undoes it.\n", n.Hostname, appsStop(n.Apps), n.Hostname)
				return err
			})
		},
	}
	drain.Flags().BoolVar(&drainForce, "force", false, "drain the swarm's last active node too")
	activate := &cobra.Command{
		Use:   "activate ID|HOSTNAME",
		Short: "Let a drained or paused node run apps again (admins)",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			n, err := c.ActivateNode(cmd.Context(), args[0])
			if err != nil {
				return fmt.Errorf("activate node %s: %w", args[0], err)
			}
			return o.render(cmd.OutOrStdout(), n, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "Node %s is active.\n", n.Hostname)
				return err
			})
		},
	}
	var removeForce bool
	remove := &cobra.Command{
		Use:   "remove ID|HOSTNAME",
		Short: "Take a node out of the Swarm (admins)",
		Long: `Take a node out of the swarm. Run docker swarm leave on it first: a node
that is still ready, or that holds apps (their volumes are there), is
refused unless --force. The node the server runs on and managers are always
refused (demote a manager first: docker node demote).`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			n, err := c.RemoveNode(cmd.Context(), args[0], removeForce)
			if err != nil {
				return fmt.Errorf("remove node %s: %w", args[0], err)
			}
			return o.render(cmd.OutOrStdout(), n, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "Node %s (%s) is no longer in the swarm.\n", n.Hostname, n.ID)
				return err
			})
		},
	}
	remove.Flags().BoolVar(&removeForce, "force", false, "remove a node that is still ready or holds apps")
	cmd.AddCommand(add, list, drain, activate, remove)
	return cmd
}

// appsStop says what a drain does to the apps on the node.
func appsStop(apps int) string {
	if apps == 0 {
		return "no app of StackHub's is placed on it"
	}
	return fmt.Sprintf("its %d app%s stop until it is active again", apps, plural(apps))
}

// shortID is a node ID cut as docker node ls shows it.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func printNodes(w io.Writer, nodes []Node) error {
	t := table(w)
	fmt.Fprintln(t, "ID\tHOSTNAME\tROLE\tSTATE\tAVAILABILITY\tCPU\tMEMORY\tDISK\tAPPS\tADDRESS")
	for _, n := range nodes {
		id := shortID(n.ID)
		if n.Self {
			id += " *" // the node the server runs on, as docker node ls marks it
		}
		role := n.Role
		if n.Leader {
			role += " (leader)"
		}
		state := n.State
		if n.Reachability != "" && n.Reachability != "reachable" {
			state += " (" + n.Reachability + ")"
		}
		disk := "-"
		if n.Disk != nil && n.Disk.Total > 0 {
			disk = fmt.Sprintf("%s/%s", humanize.IBytes(n.Disk.Used), humanize.IBytes(n.Disk.Total))
		}
		mem := "-"
		if n.MemoryBytes > 0 {
			mem = humanize.IBytes(uint64(n.MemoryBytes))
		}
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", id, cmp.Or(n.Hostname, "-"), role, state, n.Availability,
			strings.TrimSuffix(fmt.Sprintf("%.1f", n.CPUs), ".0"), mem, disk, n.Apps, cmp.Or(n.Addr, "-"))
	}
	return t.Flush()
}

// volumeHelperLoad is how an operator puts StackHub's volume helper image
// on a new node: saved from the server's engine, loaded into the node's
// (docs/swarm-apps.md).
const volumeHelperLoad = "docker save stackhub/volumes:1 | ssh NEW-MACHINE docker load"
