package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/orchestrator/sqlite"
)

func newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Manage API tokens"}
	var dataDir, name, scope string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an API token; the token is the last line printed and is shown only once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := os.MkdirAll(dataDir, 0o700); err != nil {
				return fmt.Errorf("data dir: %w", err)
			}
			db, err := sqlite.Open(cmd.Context(), filepath.Join(dataDir, "stackhub.db"))
			if err != nil {
				return err
			}
			defer db.Close()
			secret, tok, err := orchestrator.NewToken(cmd.Context(), db, newID(), name, scope, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "created %s token %q (id %s); it is shown once, store it now:\n", tok.Scope, tok.Name, tok.ID)
			fmt.Fprintln(cmd.OutOrStdout(), secret)
			return nil
		},
	}
	create.Flags().StringVar(&dataDir, "data-dir", DefaultConfig().DataDir, "state directory of the server")
	create.Flags().StringVar(&name, "name", "cli", "a name to recognise the token by")
	create.Flags().StringVar(&scope, "scope", orchestrator.ScopeAdmin, "admin (read is for the operator API)")
	cmd.AddCommand(create)
	return cmd
}
