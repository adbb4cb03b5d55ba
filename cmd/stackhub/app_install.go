package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// installOptions are the flags of app install.
type installOptions struct {
	// name is the instance name (--name); empty installs under the
	// catalog name.
	name string
	// noWait returns once the job is accepted.
	noWait bool
	// grant are the permissions to grant the app's bundle first
	// (--grant, repeatable): exactly what it declares.
	grant []string
	// set, setJSON and setFile are parameter values (--set key=value as
	// a string, --set-json key=JSON typed, --set-file key=FILE the file's
	// text).
	set, setJSON, setFile []string
	// node places the app on this Swarm node (--node, ID or hostname).
	node string
}

func newAppInstallCmd(o *remoteOptions) *cobra.Command {
	var opts installOptions
	cmd := &cobra.Command{
		Use:   "install APP",
		Short: "Install catalog app APP and wait until it runs",
		Long: `Install catalog app APP (see stackhub catalog), under --name to install one
app more than once. The server reserves the ports at once; a job does the rest.
--set key=value, --set-json key=JSON and --set-file key=FILE give the app's
settings (stackhub catalog APP lists its parameters); the server checks them
all against the bundle's definitions before anything is reserved and names
each value it refuses. A port parameter asks for that port. When the server's
Docker engine is a Swarm manager, --node places the app on that node (it stays
there); without it the server picks the ready node with the most free memory.
` + grantHelp + "\n" + waitHelp,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			params, err := parseParameters(opts.set, opts.setJSON, opts.setFile...)
			if err != nil {
				return err
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			if len(opts.grant) > 0 {
				if err := grantDeclared(cmd.Context(), c, cmd.ErrOrStderr(), args[0], opts.grant); err != nil {
					return err
				}
			}
			inst, err := c.InstallAppOn(cmd.Context(), args[0], opts.name, opts.node, params)
			if err != nil {
				return fmt.Errorf("install %s: %w", args[0], err)
			}
			return followJob(cmd, o, c, inst.App.AppName, "install", inst.JobID, opts.noWait)
		},
	}
	cmd.Flags().StringVar(&opts.name, "name", "", "instance name (default: the catalog name)")
	cmd.Flags().StringVar(&opts.node, "node", "", "place the app on this Swarm node, by ID or hostname (the server's engine must be a Swarm manager; default: the node with the most free memory)")
	cmd.Flags().StringArrayVar(&opts.set, "set", nil, "set a parameter, key=value (a string); repeatable")
	cmd.Flags().StringArrayVar(&opts.setJSON, "set-json", nil, "set a parameter to a JSON value, key=JSON (--set-json port=9100); repeatable")
	cmd.Flags().StringArrayVar(&opts.setFile, "set-file", nil, "set a parameter to a file's text, key=FILE; repeatable")
	cmd.Flags().BoolVar(&opts.noWait, "no-wait", false, "return once the install job is accepted")
	cmd.Flags().StringArrayVar(&opts.grant, "grant", nil, "grant the app's bundle this permission it declares, e.g. cap-add:NET_ADMIN; once per declared permission")
	return cmd
}
