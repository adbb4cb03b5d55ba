package main

import (
	"github.com/dustin/go-humanize"

	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// newServerCmd is `stackhub server`: the host's figures and risks, as the
// seed endpoint /searchServer reports them.
func newServerCmd(getenv env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Show the server's CPU, memory, disk, load, Docker version, apps and risks",
		Args:  usageArgs(cobra.NoArgs),
	}
	o := newRemoteOptions(cmd, getenv)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c, err := o.client()
		if err != nil {
			return err
		}
		st, err := c.SearchServer(cmd.Context())
		if err != nil {
			return fmt.Errorf("server status: %w", err)
		}
		return o.render(cmd.OutOrStdout(), st, func(w io.Writer) error { return printServer(w, st) })
	}
	return cmd
}

func printServer(w io.Writer, st ServerStatus) error {
	t := table(w)
	fmt.Fprintf(t, "CPU:\t%s\n", st.CPU)
	fmt.Fprintf(t, "Memory:\t%s%s\n", st.Memory, ofTotal(st.MemUsed, st.MemTotal))
	fmt.Fprintf(t, "Disk:\t%s%s\n", st.HDD, ofTotal(st.HDDUsed, st.HDDTotal))
	fmt.Fprintf(t, "Load:\t%.2f %.2f %.2f\n", st.Load[0], st.Load[1], st.Load[2])
	fmt.Fprintf(t, "Uptime:\t%s\n", time.Duration(st.Uptime)*time.Second)
	fmt.Fprintf(t, "Docker:\t%s\n", firstOf(st.Docker, "not answering"))
	states := make([]string, 0, len(st.Apps))
	for s, n := range st.Apps {
		states = append(states, fmt.Sprintf("%s %d", s, n))
	}
	slices.Sort(states)
	fmt.Fprintf(t, "Apps:\t%s\n", firstOf(strings.Join(states, ", "), "none"))
	if st.Sampled != nil {
		fmt.Fprintf(t, "Sampled:\t%s\n", st.Sampled.Local().Format(time.DateTime))
	}
	fmt.Fprintf(t, "Risks:\t%d\n", st.Risk)
	if err := t.Flush(); err != nil {
		return err
	}
	for _, r := range st.Risks {
		fmt.Fprintf(w, "  [%s] %s\n", r.Code, r.Message)
		if r.Advice != "" {
			fmt.Fprintf(w, "      %s\n", r.Advice)
		}
	}
	return nil
}

// ofTotal is " (used of total)" in binary units, "" when unknown.
func ofTotal(used, total uint64) string {
	if total == 0 {
		return ""
	}
	return fmt.Sprintf(" (%s of %s)", humanize.IBytes(used), humanize.IBytes(total))
}
