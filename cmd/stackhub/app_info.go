package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

func newAppInfoCmd(o *remoteOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "info NAME",
		Short: "Show installed app NAME: state, ports, containers, outputs",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			app, err := c.GetApp(cmd.Context(), args[0])
			if err != nil {
				return fmt.Errorf("info %s: %w", args[0], err)
			}
			return o.render(cmd.OutOrStdout(), app, func(w io.Writer) error { return printAppInfo(w, app, c.BaseURL) })
		},
	}
}

func printAppInfo(w io.Writer, a App, baseURL string) error {
	t := table(w)
	fmt.Fprintf(t, "Name:\t%s\n", a.AppName)
	fmt.Fprintf(t, "App:\t%s %s\n", a.App, a.Version)
	fmt.Fprintf(t, "State:\t%s\n", a.State)
	if a.Info != "" && a.Info != a.State {
		fmt.Fprintf(t, "Info:\t%s\n", a.Info)
	}
	if a.Active != "" {
		fmt.Fprintf(t, "Active:\t%s in progress\n", a.Active)
	}
	if u := appURL(baseURL, &a); u != "" {
		fmt.Fprintf(t, "URL:\t%s\n", u)
	}
	if n := a.Node; n != nil {
		state := ""
		if n.State != "" && n.State != "ready" {
			state = ", " + n.State // the manager hears nothing from it
		}
		fmt.Fprintf(t, "Node:\t%s (%s, %s%s)\n", n.Hostname, n.ID, n.Addr, state)
		if n.Address != "" {
			fmt.Fprintf(t, "Address:\t%s\n", n.Address)
		}
	}
	fmt.Fprintf(t, "Ports:\t%s\n", firstOf(formatPorts(a.Ports), "-"))
	fmt.Fprintf(t, "Container:\t%s\n", a.ContainerName)
	fmt.Fprintf(t, "Containers:\t%s\n", firstOf(strings.Join(a.Containers, ", "), "-"))
	fmt.Fprintf(t, "Last job:\t%s\n", a.RunID)
	if err := t.Flush(); err != nil || len(a.Outputs) == 0 {
		return err
	}
	fmt.Fprintln(w, "Outputs:")
	t = table(w)
	keys := make([]string, 0, len(a.Outputs))
	for k := range a.Outputs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(t, "  %s\t%s\n", k, a.Outputs[k])
	}
	return t.Flush()
}
