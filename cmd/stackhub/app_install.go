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
}

func newAppInstallCmd(o *remoteOptions) *cobra.Command {
	var opts installOptions
	cmd := &cobra.Command{
		Use:   "install APP",
		Short: "Install catalog app APP and wait until it runs",
		Long: `Install catalog app APP (see stackhub catalog), under --name to install one
app more than once. The server reserves the ports at once; a job does the rest.
` + grantHelp + "\n" + waitHelp,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			if len(opts.grant) > 0 {
				if err := grantDeclared(cmd.Context(), c, cmd.ErrOrStderr(), args[0], opts.grant); err != nil {
					return err
				}
			}
			inst, err := c.InstallApp(cmd.Context(), args[0], opts.name)
			if err != nil {
				return fmt.Errorf("install %s: %w", args[0], err)
			}
			return followJob(cmd, o, c, inst.App.AppName, "install", inst.JobID, opts.noWait)
		},
	}
	cmd.Flags().StringVar(&opts.name, "name", "", "instance name (default: the catalog name)")
	cmd.Flags().BoolVar(&opts.noWait, "no-wait", false, "return once the install job is accepted")
	cmd.Flags().StringArrayVar(&opts.grant, "grant", nil, "grant the app's bundle this permission it declares, e.g. cap-add:NET_ADMIN; once per declared permission")
	return cmd
}
