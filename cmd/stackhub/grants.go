package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// grantHelp is the part of the help of install and upgrade about --grant.
const grantHelp = `
A bundle that needs more than StackHub's default bundle policy (a VPN's
cap-add:NET_ADMIN, a media server's devices:/dev/dri, a backup app's
bind-mount:/srv/backup) declares it, and is refused until an admin grants
exactly those permissions to that bundle. --grant PERM, once for each
permission the bundle declares (stackhub grants show APP lists them in
plain words), records that grant first; it holds for this bundle only, and
a new version needs its own.`

func newGrantsCmd(getenv env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "grants",
		Short: "Show, list and revoke the permissions granted to bundles",
		Long: `Show what a catalog app's bundle asks for beyond StackHub's default bundle
policy, list the grants, and revoke one. Grants are given with
stackhub app install APP --grant PERM (or app upgrade), the console's
install dialog, or POST /api/v1/catalog/{name}/grants; each holds for one
bundle digest, records who gave it and when, and lets the bundle's runs
do exactly what it names. See stackhub --help for how the server and
token are found.`,
		RunE: groupRunE,
	}
	o := newRemoteOptions(cmd, getenv)
	cmd.AddCommand(newGrantsShowCmd(o), newGrantsListCmd(o), newGrantsRevokeCmd(o))
	return cmd
}

func newGrantsShowCmd(o *remoteOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "show APP",
		Short: "Show what catalog app APP's bundle asks for beyond the default policy, and its grant",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			ap, err := c.AppPermissions(cmd.Context(), args[0])
			if err != nil {
				return fmt.Errorf("permissions of %s: %w", args[0], err)
			}
			return o.render(cmd.OutOrStdout(), ap, func(w io.Writer) error { return printAppPermissions(w, ap) })
		},
	}
}

func printAppPermissions(w io.Writer, ap AppPermissions) error {
	if len(ap.Permissions) == 0 {
		_, err := fmt.Fprintf(w, "%s %s needs nothing beyond StackHub's default bundle policy\n", ap.App, ap.Version)
		return err
	}
	fmt.Fprintf(w, "%s %s (bundle %s) asks to:\n", ap.App, ap.Version, ap.Digest)
	t := table(w)
	for _, p := range ap.Permissions {
		fmt.Fprintf(t, "  %s\t%s\n", p.Permission, p.Description)
	}
	if err := t.Flush(); err != nil {
		return err
	}
	if ap.Grant != nil {
		_, err := fmt.Fprintf(w, "granted by %s at %s (grant %s)\n", ap.Grant.GrantedBy, ap.Grant.GrantedAt.Local().Format(time.DateTime), ap.Grant.ID)
		return err
	}
	flags := make([]string, len(ap.Missing))
	for i, p := range ap.Missing {
		flags[i] = "--grant " + p
	}
	_, err := fmt.Fprintf(w, "not granted: stackhub app install %s %s\n", ap.App, strings.Join(flags, " "))
	return err
}

func newGrantsListCmd(o *remoteOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the live grants of bundle permissions",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			list, err := c.ListGrants(cmd.Context())
			if err != nil {
				return fmt.Errorf("list grants: %w", err)
			}
			if list == nil {
				list = []Grant{}
			}
			return o.render(cmd.OutOrStdout(), list, func(w io.Writer) error { return printGrants(w, list) })
		},
	}
}

func printGrants(w io.Writer, list []Grant) error {
	t := table(w)
	fmt.Fprintln(t, "ID\tAPP\tVERSION\tPERMISSIONS\tGRANTED BY\tGRANTED AT\tDIGEST")
	for _, g := range list {
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", g.ID, g.App, g.Version, strings.Join(g.Permissions, ","), g.GrantedBy,
			g.GrantedAt.Local().Format(time.DateTime), g.Digest)
	}
	return t.Flush()
}

func newGrantsRevokeCmd(o *remoteOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke grant ID (grants list shows the IDs); later installs and upgrades of its bundle are refused",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			if err := c.RevokeGrant(cmd.Context(), args[0]); err != nil {
				return fmt.Errorf("revoke grant %s: %w", args[0], err)
			}
			res := struct {
				ID      string `json:"id"`
				Revoked bool   `json:"revoked"`
			}{args[0], true}
			return o.render(cmd.OutOrStdout(), res, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "grant %s revoked\n", args[0])
				return err
			})
		},
	}
}

// grantDeclared records the operator's grant of perms to catalog app
// app's bundle before an install or upgrade: the server checks that they
// are exactly what the bundle declares. The outcome is said on stderr.
func grantDeclared(ctx context.Context, c *Client, stderr io.Writer, app string, perms []string) error {
	ap, err := c.AppPermissions(ctx, app)
	if err != nil {
		return fmt.Errorf("grant %s: %w", app, err)
	}
	g, created, err := c.GrantPermissions(ctx, app, ap.Digest, perms)
	if err != nil {
		return fmt.Errorf("grant %s: %w", app, err)
	}
	verb := "granted"
	if !created {
		verb = "already granted by " + g.GrantedBy + ":"
	}
	fmt.Fprintf(stderr, "%s %s to %s %s (bundle %s, grant %s)\n", verb, strings.Join(g.Permissions, ", "), g.App, g.Version, g.Digest, g.ID)
	return nil
}
