package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// waitHelp is the part of the help of install, upgrade and the actions
// that says how they wait.
const waitHelp = `
It waits for the job by following its events, showing progress on stderr:
one line updated in place on a terminal, plain lines otherwise. Ctrl-C
while waiting asks the server to cancel the job (DELETE /api/v1/jobs/{id})
and waits up to a minute for it to wind down; the job is then reported
canceled (exit 1). --no-wait returns once the job is accepted, leaving it
to run; follow it with stackhub app info.`

// newAppCmd is `stackhub app`: the installed apps of a running server.
func newAppCmd(getenv env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "app",
		Short: "Install, inspect and run apps on a running StackHub server",
		Long: `Install, inspect and run apps on a running StackHub server, over its API.
See stackhub --help for how the server and token are found and the exit codes.`,
		RunE: groupRunE,
	}
	o := newRemoteOptions(cmd, getenv)
	cmd.AddCommand(newAppInstallCmd(o), newAppUninstallCmd(o), newAppInfoCmd(o), newAppListCmd(o),
		newAppLogsCmd(o), newAppUpgradeCmd(o), newAppSettingsCmd(o), newAppStatsCmd(o),
		newAppBackupCmd(o), newAppRestoreCmd(o), newAppMoveCmd(o), newAppDomainCmd(o))
	cmd.AddCommand(newAppActionCmds(o)...)
	return cmd
}

// jobResult is what install, upgrade and the actions print with -o json:
// the app after the job (null if it is gone) and the job.
type jobResult struct {
	App *App `json:"app"`
	Job Job  `json:"job"`
}

// followJob waits for job jobID of app name (unless noWait), prints the
// app and the job, and returns a *JobError when the job did not succeed.
func followJob(cmd *cobra.Command, o *remoteOptions, c *Client, name, action, jobID string, noWait bool) error {
	ctx := cmd.Context()
	var job Job
	var err error
	var view *progressView
	if noWait {
		job, err = c.GetJob(ctx, jobID)
	} else {
		view = newProgressView(cmd.ErrOrStderr(), action+" "+name)
		job, err = waitJob(ctx, c, jobID, view)
		view.Close()
	}
	if err != nil {
		return fmt.Errorf("%s %s: job %s: %w", action, name, jobID, err)
	}
	// After a Ctrl-C ctx is done, yet the outcome is still worth showing.
	after, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	res := jobResult{Job: job}
	app, err := c.GetApp(after, name)
	switch {
	case err == nil:
		res.App = &app
	case exitCode(err) != exitNotFound:
		return fmt.Errorf("%s %s: %w", action, name, err)
	}
	err = o.render(cmd.OutOrStdout(), res, func(w io.Writer) error { return printJobResult(w, res, c.BaseURL) })
	if err != nil || job.Status == JobSucceeded || job.Status == JobRunning {
		return err
	}
	if view != nil && job.Status == JobFailed && !o.json() {
		if tail := view.Tail(); len(tail) > 0 {
			fmt.Fprintf(cmd.ErrOrStderr(), "last lines of the %s log:\n  %s\n", action, strings.Join(tail, "\n  "))
		}
	}
	return &JobError{Job: job}
}

// printJobResult writes a job's outcome and, when the app is there, where
// to reach it.
func printJobResult(w io.Writer, res jobResult, baseURL string) error {
	j := res.Job
	switch {
	case j.Status == JobRunning:
		fmt.Fprintf(w, "%s of %s started: job %s (follow it with stackhub app info %s)\n", j.Action, j.App, j.ID, j.App)
	case j.Status != JobSucceeded:
		fmt.Fprintf(w, "%s of %s %s\n", j.Action, j.App, j.Status)
	case res.App != nil:
		fmt.Fprintf(w, "%s of %s succeeded: %s (%s %s)\n", j.Action, j.App, res.App.State, res.App.App, res.App.Version)
	default:
		fmt.Fprintf(w, "%s of %s succeeded\n", j.Action, j.App)
	}
	if j.Status == JobSucceeded && (j.Action == "snapshot" || j.Action == "restore") {
		t := table(w)
		for _, k := range []string{"backup", "repository", "restored", "safety"} {
			if v := j.Outputs[k]; v != "" {
				fmt.Fprintf(t, "  %s\t%s\n", k, v)
			}
		}
		if err := t.Flush(); err != nil {
			return err
		}
	}
	if res.App == nil || j.Status == JobFailed || j.Status == JobCanceled || (j.Action != "install" && j.Action != "upgrade" && j.Action != "restore") {
		return nil
	}
	t := table(w)
	if u := appURL(baseURL, res.App); u != "" {
		fmt.Fprintf(t, "  url\t%s\n", u)
	}
	fmt.Fprintf(t, "  container\t%s\n", res.App.ContainerName)
	for _, p := range portNames(res.App.Ports) {
		fmt.Fprintf(t, "  %s\t%d\n", p, res.App.Ports[p])
	}
	return t.Flush()
}

// appURL is http://<the server's host>:<the app's port>/, "" without a port.
func appURL(baseURL string, a *App) string {
	if a.Port == nil {
		return ""
	}
	host := "127.0.0.1"
	if u, err := url.Parse(baseURL); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(*a.Port)) + "/"
}

// portNames lists port parameters: "port" first, then by name.
func portNames(ports map[string]int) []string {
	names := make([]string, 0, len(ports))
	for n := range ports {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == "port":
			return -1
		case b == "port":
			return 1
		}
		return strings.Compare(a, b)
	})
	return names
}

// formatPorts is "port=9001 db_port=3307".
func formatPorts(ports map[string]int) string {
	parts := make([]string, 0, len(ports))
	for _, n := range portNames(ports) {
		parts = append(parts, n+"="+strconv.Itoa(ports[n]))
	}
	return strings.Join(parts, " ")
}
