package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/websoft9/stackhub/orchestrator"
)

// newAppActionCmds returns app start, stop, restart, and app action for
// a bundle's custom actions.
func newAppActionCmds(o *remoteOptions) []*cobra.Command {
	cmds := []*cobra.Command{}
	for _, a := range []struct{ action, short string }{
		{"start", "Start app NAME's containers"},
		{"stop", "Stop app NAME's containers, keeping them and their data"},
		{"restart", "Restart app NAME's containers"},
	} {
		cmds = append(cmds, newAppActionCmd(o, a.action+" NAME", a.short, func(args []string) (string, string) {
			return args[0], a.action
		}, cobra.ExactArgs(1)))
	}
	cmds = append(cmds, newAppActionCmd(o, "action NAME ACTION", "Run custom action ACTION of app NAME's bundle (stackhub catalog APP lists them)",
		func(args []string) (string, string) { return args[0], args[1] }, cobra.ExactArgs(2)))
	return cmds
}

// newAppActionCmd is one action command; pick says which app and action
// its arguments name.
func newAppActionCmd(o *remoteOptions, use, short string, pick func([]string) (string, string), args cobra.PositionalArgs) *cobra.Command {
	var noWait bool
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  short + ".\n" + waitHelp,
		Args:  usageArgs(args),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, action := pick(args)
			if _, err := orchestrator.ParseAction(action); err != nil {
				return usageErrorf("%s", orchestrator.ErrorMessage(err))
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			job, err := c.AppAction(cmd.Context(), name, action)
			if err != nil {
				return fmt.Errorf("%s %s: %w", action, name, err)
			}
			return followJob(cmd, o, c, name, action, job.ID, noWait)
		},
	}
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "return once the job is accepted")
	return cmd
}
