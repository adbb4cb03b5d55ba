package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func newAppListCmd(o *remoteOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the installed apps",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			apps, err := c.ListApps(cmd.Context())
			if err != nil {
				return fmt.Errorf("list apps: %w", err)
			}
			if apps == nil {
				apps = []App{}
			}
			return o.render(cmd.OutOrStdout(), apps, func(w io.Writer) error { return printAppList(w, apps) })
		},
	}
}

func printAppList(w io.Writer, apps []App) error {
	if len(apps) == 0 {
		_, err := fmt.Fprintln(w, "No apps installed.")
		return err
	}
	t := table(w)
	fmt.Fprintln(t, "NAME\tAPP\tVERSION\tSTATE\tPORTS\tINFO")
	for _, a := range apps {
		info := a.Info
		if info == a.State {
			info = ""
		}
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\t%s\n", a.AppName, a.App, a.Version, a.State, formatPorts(a.Ports), info)
	}
	return t.Flush()
}
