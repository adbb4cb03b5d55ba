package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// Exit codes of stackhub, for scripts; cliHelp lists them.
const (
	exitOK           = 0 // done
	exitFailed       = 1 // the operation failed: a job failed or was canceled, a server error
	exitUsage        = 2 // bad command line, flags, config file, or input the server refused (400)
	exitNotFound     = 3 // 404: no such app, job, token or catalog entry
	exitConflict     = 4 // 409: the name is taken, a job is already running
	exitUnauthorized = 5 // 401 or 403: missing, bad or read-only token
	exitUnavailable  = 6 // the server cannot be reached, or answers 502, 503 or 504
)

// cliHelp is the root command's long help.
const cliHelp = `StackHub installs self-hosted apps as Porter/CNAB bundles on a Docker host.

stackhub serve runs the server. The operator commands (app, server,
catalog, grants, backup, cluster, node, token list|revoke, token create
--remote) talk to a running server over its HTTP API, never to its
database. They find it by, in order:
  --url and --token flags,
  STACKHUB_URL and STACKHUB_TOKEN,
  the config file $XDG_CONFIG_HOME/stackhub/config.json, by default
  ~/.config/stackhub/config.json (STACKHUB_CONFIG names another), holding
  {"url": "...", "token": "..."}; it must not be readable by group or
  others (chmod 600), or it is refused,
  and http://127.0.0.1:9000 for the URL.
The token is never printed. Every operator command takes -o json for
machine-readable output with the API's field names.

Exit codes:
  0  ok
  1  the operation failed (a job failed or was canceled, a server error)
  2  usage error (bad arguments, flags or config file; input the server refused, HTTP 400)
  3  not found (HTTP 404)
  4  conflict (HTTP 409: the name is taken, a job is already running, not a swarm)
  5  unauthorized or forbidden (HTTP 401/403: missing, bad or read-only token)
  6  server unreachable or unavailable (connection refused, HTTP 502/503/504)`

// exitError makes err end stackhub with code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError marks err as a usage error (exit 2).
func usageError(err error) error { return &exitError{code: exitUsage, err: err} }

// usageErrorf is usageError of a formatted error.
func usageErrorf(format string, args ...any) error { return usageError(fmt.Errorf(format, args...)) }

// usageArgs makes an argument check's failure a usage error.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError(err)
		}
		return nil
	}
}

// exitCode is the exit code for the error a command returned: an
// exitError's code, an *APIError's by its HTTP status, 6 for an
// *UnreachableError, else 1.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	if ee, ok := errors.AsType[*exitError](err); ok {
		return ee.code
	}
	if ae, ok := errors.AsType[*APIError](err); ok {
		return exitCodeOfStatus(ae.Status)
	}
	if _, ok := errors.AsType[*UnreachableError](err); ok {
		return exitUnavailable
	}
	return exitFailed
}

// exitCodeOfStatus maps a failure status to an exit code.
func exitCodeOfStatus(status int) int {
	switch status {
	case http.StatusBadRequest:
		return exitUsage
	case http.StatusNotFound:
		return exitNotFound
	case http.StatusConflict:
		return exitConflict
	case http.StatusUnauthorized, http.StatusForbidden:
		return exitUnauthorized
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return exitUnavailable
	}
	return exitFailed
}

// configureCLI gives root the help text with the exit codes, and makes bad
// flags and unknown commands usage errors (exit 2).
func configureCLI(root *cobra.Command) {
	root.Long = cliHelp
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	root.Args = usageArgs(cobra.NoArgs)
	root.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
}

// groupRunE is the RunE of a command group (app, token): help without
// arguments, a usage error for an unknown subcommand.
func groupRunE(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("unknown command %q for %q", args[0], cmd.CommandPath())
	}
	return cmd.Help()
}

// remoteOptions are the flags of every command that talks to a running
// server, registered once on a command group for all its subcommands.
type remoteOptions struct {
	getenv env
	// url is --url; empty: STACKHUB_URL, the config file, the default.
	url string
	// token is --token; empty: STACKHUB_TOKEN, the config file.
	token string
	// output is --output/-o: text or json.
	output string
}

// newRemoteOptions registers --url, --token and -o on cmd for it and its
// subcommands.
func newRemoteOptions(cmd *cobra.Command, getenv env) *remoteOptions {
	o := &remoteOptions{getenv: getenv}
	f := cmd.PersistentFlags()
	f.StringVar(&o.url, "url", "", "server URL; else STACKHUB_URL, the config file, "+defaultServerURL)
	f.StringVar(&o.token, "token", "", "API token; else STACKHUB_TOKEN, the config file (prefer those: flags show in ps)")
	f.StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	return o
}

// checkOutput refuses an unknown -o.
func (o *remoteOptions) checkOutput() error {
	if o.output != "text" && o.output != "json" {
		return usageErrorf("-o %q: want text or json", o.output)
	}
	return nil
}

// client checks the flags and returns a client for the server they,
// the environment or the config file name.
func (o *remoteOptions) client() (*Client, error) {
	if err := o.checkOutput(); err != nil {
		return nil, err
	}
	r, err := resolveRemote(o.url, o.token, o.getenv)
	if err != nil {
		return nil, err
	}
	return NewClient(r.URL, r.Token), nil
}

// json tells whether -o json was asked for.
func (o *remoteOptions) json() bool { return o.output == "json" }

// render writes v to w as indented JSON under -o json, else calls text.
func (o *remoteOptions) render(w io.Writer, v any, text func(io.Writer) error) error {
	if o.json() {
		return writeJSON(w, v)
	}
	return text(w)
}

// writeJSON writes v as indented JSON and a newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes aligned columns to w; call Flush when done.
func table(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}
