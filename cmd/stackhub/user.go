package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/orchestrator/password"
	"github.com/websoft9/stackhub/orchestrator/sqlite"
)

// newUserCmd is `stackhub user add|passwd`, working on the data dir.
func newUserCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage console accounts (on the server's data dir)"}
	var dataDir string
	withAccounts := func(cmd *cobra.Command, fn func(*orchestrator.Accounts, string) error) error {
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return fmt.Errorf("data dir: %w", err)
		}
		db, err := sqlite.Open(cmd.Context(), filepath.Join(dataDir, "stackhub.db"))
		if err != nil {
			return err
		}
		defer db.Close()
		pw, err := readPassword(cmd.InOrStdin())
		if err != nil {
			return err
		}
		return fn(&orchestrator.Accounts{Users: db, Hasher: password.Argon2{}, Now: time.Now, NewID: newID}, pw)
	}
	var role string
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "Create an account; the password is read from standard input (one line)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := orchestrator.ParseRole(role)
			if err != nil {
				return errors.New(orchestrator.ErrorMessage(err))
			}
			return withAccounts(cmd, func(a *orchestrator.Accounts, pw string) error {
				u, err := a.AddUser(cmd.Context(), args[0], pw, r)
				if err != nil {
					return errors.New(orchestrator.ErrorMessage(err))
				}
				fmt.Fprintf(cmd.OutOrStdout(), "created user %s (%s)\n", u.Name, u.Role)
				return nil
			})
		},
	}
	add.Flags().StringVar(&role, "role", string(orchestrator.RoleAdmin), "viewer, operator or admin")
	passwd := &cobra.Command{
		Use:   "passwd NAME",
		Short: "Set an account's password (read from standard input, one line); its sessions end",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withAccounts(cmd, func(a *orchestrator.Accounts, pw string) error {
				if err := orchestrator.ValidatePassword(pw); err != nil {
					return errors.New(orchestrator.ErrorMessage(err))
				}
				hash, err := a.Hasher.Hash(pw)
				if err != nil {
					return err
				}
				if err := a.Users.SetPassword(cmd.Context(), args[0], hash, a.Now()); err != nil {
					return errors.New(orchestrator.ErrorMessage(err))
				}
				fmt.Fprintf(cmd.OutOrStdout(), "password of %s set\n", args[0])
				return nil
			})
		},
	}
	for _, c := range []*cobra.Command{add, passwd} {
		c.Flags().StringVar(&dataDir, "data-dir", DefaultConfig().DataDir, "state directory of the server")
	}
	cmd.AddCommand(add, passwd)
	return cmd
}

// readPassword reads one line; the password never comes from argv, where
// other users could see it in the process list.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password on standard input")
	}
	return line, nil
}
