package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"

	"github.com/dustin/go-humanize"

	"github.com/spf13/cobra"
)

func newAppSettingsCmd(o *remoteOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "settings NAME",
		Short: "Show app NAME's settings as its last install or upgrade ran them",
		Long: `Show app NAME's settings as its last successful install or upgrade ran
them (the bundle's default for one nobody set). A sensitive setting is only
said to be set. Change them with: stackhub app upgrade NAME --set k=v
(--plan first shows what changes).`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			st, err := c.AppSettings(cmd.Context(), args[0])
			if err != nil {
				return fmt.Errorf("settings of %s: %w", args[0], err)
			}
			return o.render(cmd.OutOrStdout(), st, func(w io.Writer) error {
				t := table(w)
				fmt.Fprintln(t, "SETTING\tVALUE\tEDITABLE")
				for _, s := range st.Settings {
					v := settingText(s.Value)
					switch {
					case s.Sensitive && s.Set:
						v = "(set, hidden)"
					case s.Sensitive:
						v = "(not set)"
					}
					editable := "no (install only)"
					if s.Editable {
						editable = "yes"
					}
					fmt.Fprintf(t, "%s\t%s\t%s\n", s.Name, v, editable)
				}
				return t.Flush()
			})
		},
	}
}

func newAppStatsCmd(o *remoteOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "stats NAME",
		Short: "Show the CPU, memory, network and disk use of app NAME's running containers",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			stats, err := c.AppStats(cmd.Context(), args[0])
			if err != nil {
				return fmt.Errorf("stats of %s: %w", args[0], err)
			}
			return o.render(cmd.OutOrStdout(), stats, func(w io.Writer) error {
				t := table(w)
				fmt.Fprintln(t, "CONTAINER\tCPU\tMEMORY\tNET RX/TX\tDISK R/W\tPIDS")
				var notes []string
				for _, s := range stats {
					if s.Unavailable != "" {
						fmt.Fprintf(t, "%s\t-\t-\t-\t-\t-\n", s.Name)
						note := "not sampled: " + s.Unavailable
						if n := s.Node; n != nil && n.CPUs > 0 {
							note += fmt.Sprintf("; node %s: %g CPUs, %s memory, %s", cmp.Or(n.Hostname, n.ID), n.CPUs, humanize.IBytes(uint64(max(n.MemoryBytes, 0))), n.State)
						}
						if !slices.Contains(notes, note) {
							notes = append(notes, note)
						}
						continue
					}
					fmt.Fprintf(t, "%s\t%.1f%%\t%s / %s\t%s / %s\t%s / %s\t%d\n", s.Name, s.CPUPercent,
						humanize.IBytes(s.MemoryBytes), humanize.IBytes(s.MemoryLimit), humanize.IBytes(s.NetRxBytes), humanize.IBytes(s.NetTxBytes),
						humanize.IBytes(s.BlockReadBytes), humanize.IBytes(s.BlockWriteBytes), s.PIDs)
				}
				if err := t.Flush(); err != nil {
					return err
				}
				for _, n := range notes {
					fmt.Fprintln(w, n)
				}
				return nil
			})
		},
	}
}
