package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/websoft9/stackhub/orchestrator"
)

// uninstallOptions are the flags of app uninstall.
type uninstallOptions struct {
	// purge removes the app's volumes too.
	purge bool
	// noWait returns once the job is accepted.
	noWait bool
}

func newAppUninstallCmd(o *remoteOptions) *cobra.Command {
	var opts uninstallOptions
	cmd := &cobra.Command{
		Use:   "uninstall NAME",
		Short: "Remove installed app NAME: containers and networks, volumes with --purge; frees its ports",
		Long: `Remove installed app NAME: its containers and networks, its volumes too with
--purge, then free its ports. The server does it in a job and the command
prints what went once the job is over.
` + waitHelp,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			c, err := o.client()
			if err != nil {
				return err
			}
			started, err := c.UninstallApp(cmd.Context(), name, opts.purge)
			if err != nil {
				return fmt.Errorf("uninstall %s: %w", name, err)
			}
			if opts.noWait {
				return followJob(cmd, o, c, name, "uninstall", started.JobID, true)
			}
			view := newProgressView(cmd.ErrOrStderr(), "uninstall "+name)
			job, err := waitJob(cmd.Context(), c, started.JobID, view)
			view.Close()
			if err != nil {
				return fmt.Errorf("uninstall %s: job %s: %w", name, started.JobID, err)
			}
			res, gone := uninstalledFrom(name, job)
			if !gone {
				// Failed or canceled: the app is still there; show it with the job.
				return followJob(cmd, o, c, name, "uninstall", job.ID, true)
			}
			if job.Status != JobSucceeded && !o.json() {
				fmt.Fprintf(cmd.ErrOrStderr(), "the bundle's own uninstall failed (%s); StackHub removed the app's objects directly\n", job.Message)
			}
			return o.render(cmd.OutOrStdout(), res, func(w io.Writer) error { return printUninstalled(w, res) })
		},
	}
	cmd.Flags().BoolVar(&opts.purge, "purge", false, "remove the app's volumes (its data) too")
	cmd.Flags().BoolVar(&opts.noWait, "no-wait", false, "return once the uninstall job is accepted")
	return cmd
}

// uninstalledFrom reads what a finished uninstall job removed from its
// outputs (orchestrator.OutputRemovedContainers, …); false when the job did
// not get that far, and the app is still installed.
func uninstalledFrom(name string, job Job) (Uninstalled, bool) {
	if _, ok := job.Outputs[orchestrator.OutputRemovedContainers]; !ok {
		return Uninstalled{}, false
	}
	list := func(key string) []string {
		if v := job.Outputs[key]; v != "" {
			return strings.Split(v, ",")
		}
		return []string{}
	}
	res := Uninstalled{AppName: name, RemovedContainers: list(orchestrator.OutputRemovedContainers),
		RemovedNetworks: list(orchestrator.OutputRemovedNetworks), RemovedVolumes: list(orchestrator.OutputRemovedVolumes),
		KeptVolumes: list(orchestrator.OutputKeptVolumes), FreedPorts: []int{}}
	for _, p := range list(orchestrator.OutputFreedPorts) {
		if n, err := strconv.Atoi(p); err == nil {
			res.FreedPorts = append(res.FreedPorts, n)
		}
	}
	return res, true
}

func printUninstalled(w io.Writer, res Uninstalled) error {
	fmt.Fprintf(w, "%s uninstalled\n", res.AppName)
	t := table(w)
	for _, row := range []struct {
		label string
		items []string
	}{
		{"removed containers", res.RemovedContainers},
		{"removed networks", res.RemovedNetworks},
		{"removed volumes", res.RemovedVolumes},
		{"kept volumes", res.KeptVolumes},
	} {
		if len(row.items) > 0 {
			fmt.Fprintf(t, "  %s\t%s\n", row.label, strings.Join(row.items, ", "))
		}
	}
	if len(res.FreedPorts) > 0 {
		ports := make([]string, 0, len(res.FreedPorts))
		for _, p := range res.FreedPorts {
			ports = append(ports, strconv.Itoa(p))
		}
		fmt.Fprintf(t, "  freed ports\t%s\n", strings.Join(ports, ", "))
	}
	if err := t.Flush(); err != nil {
		return err
	}
	if len(res.KeptVolumes) > 0 {
		fmt.Fprintln(w, "The kept volumes come back on a reinstall under the same name; uninstall --purge removes them.")
	}
	return nil
}
