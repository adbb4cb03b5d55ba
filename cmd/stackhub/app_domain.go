package main

import (
	"cmp"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
)

// newAppDomainCmd groups the domain commands: app domain add|list|remove.
func newAppDomainCmd(o *remoteOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "domain",
		Short: "Serve app NAME at a domain with automatic HTTPS (the server's gateway)",
		Long: `Give an app a domain: the server's gateway (serve --gateway) obtains its
certificate (ACME, or the internal CA) and sends the domain's requests to the
app's web port. Point the domain's DNS at the server first.`,
		RunE: groupRunE,
	}
	var req DomainRequest
	add := &cobra.Command{
		Use:   "add NAME DOMAIN",
		Short: "Give app NAME the domain DOMAIN",
		Args:  usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			r := req
			r.Domain = args[1]
			d, err := c.AddDomain(cmd.Context(), args[0], r)
			if err != nil {
				return fmt.Errorf("add domain %s to %s: %w", args[1], args[0], err)
			}
			if err := o.render(cmd.OutOrStdout(), d, func(w io.Writer) error {
				if _, err := fmt.Fprintf(w, "%s goes to %s (port %s); its certificate is %s\n", d.Domain, d.App, d.Port, d.Certificate.State); err != nil {
					return err
				}
				if d.Exposed != "" {
					_, err := fmt.Fprintf(w, "note: %s runs on a Swarm node, where its web port stays published at %s (Swarm cannot publish on a loopback only): close it with a firewall if only the gateway should reach it\n", d.App, d.Exposed)
					return err
				}
				return nil
			}); err != nil {
				return err
			}
			if d.Rebind == "" || o.json() {
				return nil
			}
			// The app's web port moves to the loopback: the gateway is the way in.
			return followJob(cmd, o, c, args[0], "upgrade", d.Rebind, false)
		},
	}
	add.Flags().StringVar(&req.Port, "port", "", "the app's port parameter to send the requests to (default: its web port)")
	add.Flags().StringVar(&req.PathPrefix, "path-prefix", "", "only paths under this prefix go to the app (/wiki)")
	add.Flags().BoolVar(&req.NoRedirect, "no-redirect", false, "answer plain HTTP instead of redirecting it to HTTPS")
	add.Flags().Int64Var(&req.MaxBodyBytes, "max-body", 0, "largest request body in bytes (default 100 MiB)")
	list := &cobra.Command{
		Use:   "list NAME",
		Short: "List app NAME's domains and their certificates",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			ds, err := c.Domains(cmd.Context(), args[0])
			if err != nil {
				return fmt.Errorf("domains of %s: %w", args[0], err)
			}
			return o.render(cmd.OutOrStdout(), ds, func(w io.Writer) error {
				t := table(w)
				fmt.Fprintln(t, "DOMAIN\tPORT\tPREFIX\tUPSTREAM\tCERTIFICATE\tEXPIRES\tERROR")
				for _, d := range ds {
					expires := "-"
					if d.Certificate.NotAfter != nil {
						expires = d.Certificate.NotAfter.Local().Format(time.DateOnly)
					}
					upstream := cmp.Or(d.Upstream, "-")
					if d.Exposed != "" {
						upstream += " (also reached directly)"
					}
					fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Domain, d.Port, cmp.Or(d.PathPrefix, "/"), upstream, d.Certificate.State, expires, cmp.Or(d.Certificate.Error, "-"))
				}
				return t.Flush()
			})
		},
	}
	remove := &cobra.Command{
		Use:   "remove NAME DOMAIN",
		Short: "Take the domain DOMAIN from app NAME",
		Args:  usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			rebind, err := c.RemoveDomain(cmd.Context(), args[0], args[1])
			if err != nil {
				return fmt.Errorf("remove domain %s from %s: %w", args[1], args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s no longer goes to %s\n", args[1], args[0])
			if rebind == "" || o.json() {
				return nil
			}
			// Its last domain: the web port is published everywhere again.
			return followJob(cmd, o, c, args[0], "upgrade", rebind, false)
		},
	}
	cmd.AddCommand(add, list, remove)
	return cmd
}
