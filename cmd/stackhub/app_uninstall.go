package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

func newAppUninstallCmd(o *remoteOptions) *cobra.Command {
	var purge bool
	cmd := &cobra.Command{
		Use:   "uninstall NAME",
		Short: "Remove installed app NAME: containers and networks, volumes with --purge; frees its ports",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			res, err := c.UninstallApp(cmd.Context(), args[0], purge)
			if err != nil {
				return fmt.Errorf("uninstall %s: %w", args[0], err)
			}
			return o.render(cmd.OutOrStdout(), res, func(w io.Writer) error { return printUninstalled(w, res) })
		},
	}
	cmd.Flags().BoolVar(&purge, "purge", false, "remove the app's volumes (its data) too")
	return cmd
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
