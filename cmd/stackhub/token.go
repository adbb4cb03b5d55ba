package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/orchestrator/sqlite"
)

func newTokenCmd(getenv env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage API tokens",
		Long: `Manage API tokens.

token create without --remote writes the token straight into the server's
database under --data-dir: run it on the server's host, e.g. for the first
token. token create --remote asks a running server over the API instead,
with an admin token, as token list and token revoke always do (see
stackhub --help for how the server and token are found).`,
		RunE: groupRunE,
	}
	o := newRemoteOptions(cmd, getenv)
	cmd.AddCommand(newTokenCreateCmd(o), newTokenListCmd(o), newTokenRevokeCmd(o))
	return cmd
}

// tokenCreateOptions are the flags of token create.
type tokenCreateOptions struct {
	// remote asks the running server instead of opening dataDir.
	remote bool
	// dataDir is the server's state directory, for a local create.
	dataDir string
	// name and scope describe the new token; scopeFlag is --scope as
	// given, parsed into scope.
	name, scopeFlag string
	scope           orchestrator.TokenScope
}

func newTokenCreateCmd(o *remoteOptions) *cobra.Command {
	opts := tokenCreateOptions{dataDir: DefaultConfig().DataDir}
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create an API token; the token is the last line printed and is shown only once",
		Long: `Create an API token; the token is the last line printed on stdout (with
-o json, the "token" field) and is shown only once. Without --remote it is
written into the database under --data-dir; with --remote the running server
makes it.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.checkOutput(); err != nil {
				return err
			}
			scope, err := orchestrator.ParseTokenScope(opts.scopeFlag)
			if err != nil {
				return usageErrorf("--scope: %s", orchestrator.ErrorMessage(err))
			}
			opts.scope = scope
			var tok Token
			if opts.remote {
				if cmd.Flags().Changed("data-dir") {
					return usageErrorf("--data-dir is for a local create: drop it, or drop --remote")
				}
				tok, err = createRemoteToken(cmd, o, opts)
			} else {
				tok, err = createLocalToken(cmd, opts)
			}
			if err != nil {
				return err
			}
			return o.render(cmd.OutOrStdout(), tok, func(w io.Writer) error {
				fmt.Fprintf(cmd.ErrOrStderr(), "created %s token %q (id %s); it is shown once, store it now:\n", tok.Scope, tok.Name, tok.ID)
				_, err := fmt.Fprintln(w, tok.Token)
				return err
			})
		},
	}
	cmd.Flags().BoolVar(&opts.remote, "remote", false, "ask the running server (--url, --token) instead of writing into --data-dir")
	cmd.Flags().StringVar(&opts.dataDir, "data-dir", opts.dataDir, "state directory of the server, for a local create")
	cmd.Flags().StringVar(&opts.name, "name", "cli", "a name to recognise the token by")
	cmd.Flags().StringVar(&opts.scopeFlag, "scope", string(orchestrator.ScopeAdmin), "the token's role: viewer (may only look), operator (also installs, upgrades, uninstalls, runs actions) or admin")
	return cmd
}

// createLocalToken writes a new token into the database under dataDir.
func createLocalToken(cmd *cobra.Command, opts tokenCreateOptions) (Token, error) {
	if err := os.MkdirAll(opts.dataDir, 0o700); err != nil {
		return Token{}, fmt.Errorf("data dir: %w", err)
	}
	db, err := sqlite.Open(cmd.Context(), filepath.Join(opts.dataDir, "stackhub.db"))
	if err != nil {
		return Token{}, err
	}
	defer db.Close()
	secret, tok, err := orchestrator.NewToken(cmd.Context(), db, newID(), opts.name, opts.scope, time.Now())
	if err != nil {
		return Token{}, fmt.Errorf("create token: %w", err)
	}
	return Token{ID: tok.ID, Name: tok.Name, Scope: string(tok.Scope), Created: tok.Created, Token: secret}, nil
}

// createRemoteToken asks the running server for a new token.
func createRemoteToken(cmd *cobra.Command, o *remoteOptions, opts tokenCreateOptions) (Token, error) {
	c, err := o.client()
	if err != nil {
		return Token{}, err
	}
	tok, err := c.CreateToken(cmd.Context(), opts.name, string(opts.scope))
	if err != nil {
		return Token{}, fmt.Errorf("create token: %w", err)
	}
	return tok, nil
}

func newTokenListCmd(o *remoteOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the server's API tokens (never their secrets)",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			toks, err := c.ListTokens(cmd.Context())
			if err != nil {
				return fmt.Errorf("list tokens: %w", err)
			}
			if toks == nil {
				toks = []Token{}
			}
			return o.render(cmd.OutOrStdout(), toks, func(w io.Writer) error { return printTokens(w, toks) })
		},
	}
}

func printTokens(w io.Writer, toks []Token) error {
	t := table(w)
	fmt.Fprintln(t, "ID\tNAME\tSCOPE\tCREATED\tLAST USED")
	for _, tok := range toks {
		last := "never"
		if tok.LastUsed != nil {
			last = tok.LastUsed.Local().Format(time.DateTime)
		}
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\n", tok.ID, tok.Name, tok.Scope, tok.Created.Local().Format(time.DateTime), last)
	}
	return t.Flush()
}

func newTokenRevokeCmd(o *remoteOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke API token ID (token list shows the IDs); requests with it fail from then on",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			if err := c.RevokeToken(cmd.Context(), args[0]); err != nil {
				return fmt.Errorf("revoke token %s: %w", args[0], err)
			}
			res := struct {
				ID      string `json:"id"`
				Revoked bool   `json:"revoked"`
			}{args[0], true}
			return o.render(cmd.OutOrStdout(), res, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "token %s revoked\n", args[0])
				return err
			})
		},
	}
}
