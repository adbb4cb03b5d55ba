package main

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	apiclient "github.com/websoft9/stackhub/web/client"
)

// newUsersCmd is `stackhub users ...`: the accounts and invites of a
// running server, over the API, with an admin token (stackhub user works
// on the data dir instead, on the server's host).
func newUsersCmd(getenv env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "users",
		Short: "Manage a running server's accounts and invites (admins)",
		Long: `Manage a running server's accounts and invites over the API, with an admin
token (see stackhub --help for how the server and token are found). Everyone
but the first admin joins with an invite: users invite --role ROLE prints a
code that works once, for 7 days, on the console's login screen ("I have an
invite") or POST /api/v1/auth/join.`,
		RunE: groupRunE,
	}
	o := newRemoteOptions(cmd, getenv)
	run := func(fn func(cmd *cobra.Command, c *Client, args []string) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			return fn(cmd, c, args)
		}
	}
	done := func(cmd *cobra.Command, what string, res any) error {
		return o.render(cmd.OutOrStdout(), res, func(w io.Writer) error {
			_, err := fmt.Fprintln(w, what)
			return err
		})
	}
	list := &cobra.Command{
		Use: "list", Short: "List the accounts, their roles and second factors", Args: usageArgs(cobra.NoArgs),
		RunE: run(func(cmd *cobra.Command, c *Client, _ []string) error {
			users, err := c.Users(cmd.Context())
			if err != nil {
				return fmt.Errorf("list users: %w", err)
			}
			if users == nil {
				users = []apiclient.User{}
			}
			return o.render(cmd.OutOrStdout(), users, func(w io.Writer) error {
				t := table(w)
				fmt.Fprintln(t, "NAME\tROLE\tSECOND FACTOR\tREQUIRED\tCREATED")
				for _, u := range users {
					fmt.Fprintf(t, "%s\t%s\t%s\t%t\t%s\n", u.Name, u.Role, onOff(u.SecondFactor), u.RequireSecondFactor, u.Created.Local().Format(time.DateTime))
				}
				return t.Flush()
			})
		}),
	}
	var role string
	invite := &cobra.Command{
		Use: "invite", Short: "Invite someone with --role; prints the one-time code last (shown once)", Args: usageArgs(cobra.NoArgs),
		RunE: run(func(cmd *cobra.Command, c *Client, _ []string) error {
			inv, err := c.CreateInvite(cmd.Context(), role)
			if err != nil {
				return fmt.Errorf("invite: %w", err)
			}
			return o.render(cmd.OutOrStdout(), inv, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "invite %s for a %s, until %s; the code (shown once):\n%s\n", inv.ID, inv.Role,
					inv.Expires.Local().Format(time.DateTime), inv.Code)
				return err
			})
		}),
	}
	invite.Flags().StringVar(&role, "role", "operator", "viewer, operator or admin")
	invites := &cobra.Command{
		Use: "invites", Short: "List the invites not yet used", Args: usageArgs(cobra.NoArgs),
		RunE: run(func(cmd *cobra.Command, c *Client, _ []string) error {
			list, err := c.Invites(cmd.Context())
			if err != nil {
				return fmt.Errorf("list invites: %w", err)
			}
			if list == nil {
				list = []apiclient.Invite{}
			}
			return o.render(cmd.OutOrStdout(), list, func(w io.Writer) error {
				t := table(w)
				fmt.Fprintln(t, "ID\tROLE\tBY\tEXPIRES")
				for _, inv := range list {
					fmt.Fprintf(t, "%s\t%s\t%s\t%s\n", inv.ID, inv.Role, inv.CreatedBy, inv.Expires.Local().Format(time.DateTime))
				}
				return t.Flush()
			})
		}),
	}
	withdraw := &cobra.Command{
		Use: "withdraw ID", Short: "Withdraw an invite (users invites shows the IDs)", Args: usageArgs(cobra.ExactArgs(1)),
		RunE: run(func(cmd *cobra.Command, c *Client, args []string) error {
			if err := c.RevokeInvite(cmd.Context(), args[0]); err != nil {
				return fmt.Errorf("withdraw invite %s: %w", args[0], err)
			}
			return done(cmd, "invite "+args[0]+" withdrawn", map[string]any{"id": args[0], "withdrawn": true})
		}),
	}
	setRole := &cobra.Command{
		Use: "role NAME ROLE", Short: "Change an account's role (viewer, operator, admin); its sessions end", Args: usageArgs(cobra.ExactArgs(2)),
		RunE: run(func(cmd *cobra.Command, c *Client, args []string) error {
			if err := c.ChangeUser(cmd.Context(), args[0], apiclient.UserChange{Role: &args[1]}); err != nil {
				return fmt.Errorf("role of %s: %w", args[0], err)
			}
			return done(cmd, args[0]+" is now a "+args[1], map[string]any{"name": args[0], "role": args[1]})
		}),
	}
	require := &cobra.Command{
		Use: "require-second-factor NAME true|false", Short: "Require (or not) a second factor of an account", Args: usageArgs(cobra.ExactArgs(2)),
		RunE: run(func(cmd *cobra.Command, c *Client, args []string) error {
			on, err := strconv.ParseBool(args[1])
			if err != nil {
				return usageErrorf("require-second-factor: %q is not true or false", args[1])
			}
			if err := c.ChangeUser(cmd.Context(), args[0], apiclient.UserChange{RequireSecondFactor: &on}); err != nil {
				return fmt.Errorf("second factor of %s: %w", args[0], err)
			}
			return done(cmd, fmt.Sprintf("second factor required of %s: %t", args[0], on), map[string]any{"name": args[0], "requireSecondFactor": on})
		}),
	}
	del := &cobra.Command{
		Use: "delete NAME", Short: "Delete an account (never the last admin)", Args: usageArgs(cobra.ExactArgs(1)),
		RunE: run(func(cmd *cobra.Command, c *Client, args []string) error {
			if err := c.DeleteUser(cmd.Context(), args[0]); err != nil {
				return fmt.Errorf("delete %s: %w", args[0], err)
			}
			return done(cmd, "user "+args[0]+" deleted", map[string]any{"name": args[0], "deleted": true})
		}),
	}
	cmd.AddCommand(list, invite, invites, withdraw, setRole, require, del)
	return cmd
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
