package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// moveResult is what stackhub app move -o json prints.
type moveResult struct {
	App    string `json:"app"`
	From   string `json:"from"`
	To     string `json:"to"`
	Backup string `json:"backup"`
	// Moved is false when the app was put back on its old node.
	Moved bool `json:"moved"`
	Job   Job  `json:"job"`
}

func newAppMoveCmd(o *remoteOptions) *cobra.Command {
	var repository, node string
	cmd := &cobra.Command{
		Use:   "move NAME --node NODE",
		Short: "Move app NAME to another Swarm node: a backup, then a restore there",
		Long: `Move app NAME to Swarm node NODE (ID or hostname): it is backed up (kept
still for the copy), uninstalled keeping its volumes on its old node, and
its backup restored on NODE (its volumes filled there before it starts,
new ports on that node). Once it runs there, the volumes on its old node
are removed. When the restore fails, the backup is restored on the old
node again and the command fails with both reasons.

Swarm names services cluster-wide, so the app's old services go before
its new ones are made; its old data stays until the new one runs.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if node == "" {
				return usageErrorf("move %s: --node is required", name)
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			app, err := c.GetApp(ctx, name)
			if err != nil {
				return fmt.Errorf("move %s: %w", name, err)
			}
			if app.Node == nil {
				return usageErrorf("move %s: it is not placed on a Swarm node", name)
			}
			from := app.Node.ID
			if node == from || node == app.Node.Hostname {
				return usageErrorf("move %s: it is on node %s already", name, app.Node.Hostname)
			}
			step := func(what string, start func() (string, error)) (Job, error) {
				id, err := start()
				if err != nil {
					return Job{}, fmt.Errorf("move %s: %s: %w", name, what, err)
				}
				view := newProgressView(cmd.ErrOrStderr(), what+" "+name)
				job, err := waitJob(ctx, c, id, view)
				view.Close()
				if err != nil {
					return job, fmt.Errorf("move %s: %s: job %s: %w", name, what, id, err)
				}
				if job.Status != JobSucceeded {
					return job, fmt.Errorf("move %s: %s: %w", name, what, &JobError{Job: job})
				}
				return job, nil
			}
			job, err := step("backup", func() (string, error) {
				j, err := c.BackUp(ctx, name, repository)
				return j.ID, err
			})
			if err != nil {
				return err
			}
			backup := job.Outputs["backup"]
			if _, err := step("uninstall", func() (string, error) {
				in, err := c.UninstallApp(ctx, name, false)
				return in.JobID, err
			}); err != nil {
				return fmt.Errorf("%w (its data is backup %s)", err, backup)
			}
			res := moveResult{App: name, From: app.Node.Hostname, To: node, Backup: backup, Moved: true}
			job, err = step("restore", func() (string, error) {
				_, j, err := c.RestoreOn(ctx, backup, repository, name, node)
				return j.ID, err
			})
			if err != nil {
				// Put it back where it was: its volumes there are intact.
				back := context.WithoutCancel(ctx)
				_, againErr := step("restore on the old node", func() (string, error) {
					_, j, err := c.RestoreOn(back, backup, repository, name, from)
					return j.ID, err
				})
				if againErr != nil {
					return fmt.Errorf("%w; putting it back on node %s failed too: %v (its data is backup %s)", err, app.Node.Hostname, againErr, backup)
				}
				return fmt.Errorf("%w; it runs on node %s again", err, app.Node.Hostname)
			}
			res.Job = job
			return o.render(cmd.OutOrStdout(), res, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "moved %s from node %s to %s (backup %s)\n", name, res.From, res.To, backup)
				return err
			})
		},
	}
	cmd.Flags().StringVar(&node, "node", "", "the Swarm node to move the app to (ID or hostname)")
	cmd.Flags().StringVar(&repository, "repository", "", "the backup repository (default: the default one)")
	return cmd
}
