// Command stackhub is StackHub's server and CLI: `serve` runs the HTTP API
// over the bundle engine, `token create` makes API tokens, `bundle build`
// builds a Porter bundle as `porter build` does, and `app`, `server`,
// `catalog`, `grants`, `cluster`, `node` and `token list|revoke` drive a
// running server over its API.
// This package parses flags and wires adapters to the engine; it holds no
// logic of its own. run returns the exit codes listed in cliHelp.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// env reads configuration from the environment.
type env func(string) string

func run(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) int {
	root := &cobra.Command{
		Use:           "stackhub",
		Short:         "StackHub installs self-hosted apps as Porter/CNAB bundles on a Docker host",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	configureCLI(root)
	root.AddCommand(newServeCmd(getenv), newTokenCmd(getenv), newBundleCmd(), newUserCmd(), newUsersCmd(getenv), newVersionCmd(), newDoctorCmd(getenv))
	root.AddCommand(newAppCmd(getenv), newServerCmd(getenv), newCatalogCmd(getenv), newGrantsCmd(getenv), newBackupCmd(getenv))
	root.AddCommand(newClusterCmd(getenv), newNodeCmd(getenv))
	if err := root.ExecuteContext(ctx); err != nil {
		_, _ = io.WriteString(stderr, "stackhub: "+err.Error()+"\n")
		return exitCode(err)
	}
	return 0
}
