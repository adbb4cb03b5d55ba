package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// upgradeOptions are the flags of app upgrade.
type upgradeOptions struct {
	// set are key=value parameters sent as strings (--set).
	set []string
	// setJSON are key=JSON parameters sent as typed values (--set-json).
	setJSON []string
	// noWait returns once the job is accepted.
	noWait bool
	// grant are the permissions to grant the catalog's bundle of the
	// app first (--grant, repeatable): exactly what it declares.
	grant []string
	// plan prints what the upgrade would change and stops.
	plan bool
}

func newAppUpgradeCmd(o *remoteOptions) *cobra.Command {
	var opts upgradeOptions
	cmd := &cobra.Command{
		Use:   "upgrade NAME",
		Short: "Upgrade app NAME to the catalog's version, optionally with new parameter values",
		Long: `Upgrade app NAME to the catalog's version of its app, keeping its ports and
data. --set key=value changes a settable parameter, sent as a string;
--set-json key=JSON sends a typed value (--set-json replicas=3,
--set-json debug=true) for non-string parameters. Values set once are kept
for later upgrades. --plan prints the version it moves to and each
setting it changes (sensitive ones named, never shown) and runs nothing.
` + grantHelp + "\n" + waitHelp,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			params, err := parseParameters(opts.set, opts.setJSON)
			if err != nil {
				return err
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			if opts.plan {
				plan, err := c.PlanUpgrade(cmd.Context(), args[0], params)
				if err != nil {
					return fmt.Errorf("upgrade %s: %w", args[0], err)
				}
				return o.render(cmd.OutOrStdout(), plan, func(w io.Writer) error { return printPlan(w, plan) })
			}
			if len(opts.grant) > 0 {
				inst, err := c.GetApp(cmd.Context(), args[0])
				if err != nil {
					return fmt.Errorf("upgrade %s: %w", args[0], err)
				}
				if err := grantDeclared(cmd.Context(), c, cmd.ErrOrStderr(), inst.App, opts.grant); err != nil {
					return err
				}
			}
			job, err := c.UpgradeApp(cmd.Context(), args[0], params)
			if err != nil {
				return fmt.Errorf("upgrade %s: %w", args[0], err)
			}
			return followJob(cmd, o, c, args[0], "upgrade", job.ID, opts.noWait)
		},
	}
	cmd.Flags().StringArrayVar(&opts.set, "set", nil, "set a parameter, key=value (a string); repeatable")
	cmd.Flags().StringArrayVar(&opts.setJSON, "set-json", nil, "set a parameter to a JSON value, key=JSON; repeatable")
	cmd.Flags().BoolVar(&opts.noWait, "no-wait", false, "return once the upgrade job is accepted")
	cmd.Flags().BoolVar(&opts.plan, "plan", false, "print what the upgrade would change, and run nothing")
	cmd.Flags().StringArrayVar(&opts.grant, "grant", nil, "grant the new bundle this permission it declares, e.g. cap-add:NET_ADMIN; once per declared permission")
	return cmd
}

// parseParameters turns --set, --set-json and --set-file into parameter
// values; a malformed pair, a key given twice or a file that cannot be
// read is a usage error.
func parseParameters(set, setJSON []string, setFile ...string) (map[string]any, error) {
	params := map[string]any{}
	add := func(flag, kv string, parse func(string) (any, error)) error {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return usageErrorf("%s %q: want key=value", flag, kv)
		}
		if _, dup := params[k]; dup {
			return usageErrorf("%s: parameter %q is given twice", flag, k)
		}
		val, err := parse(v)
		if err != nil {
			return usageErrorf("%s %s: %w", flag, k, err)
		}
		params[k] = val
		return nil
	}
	for _, kv := range set {
		if err := add("--set", kv, func(v string) (any, error) { return v, nil }); err != nil {
			return nil, err
		}
	}
	for _, kv := range setJSON {
		err := add("--set-json", kv, func(v string) (any, error) {
			var val any
			if err := json.Unmarshal([]byte(v), &val); err != nil {
				return nil, fmt.Errorf("not JSON: %w", err)
			}
			return val, nil
		})
		if err != nil {
			return nil, err
		}
	}
	for _, kv := range setFile {
		err := add("--set-file", kv, func(path string) (any, error) {
			// The file's bytes as they are: a certificate, a key, a long
			// text (at most 1 MiB: the request's bound).
			b, err := os.ReadFile(path)
			if err != nil {
				return nil, err
			}
			if len(b) > 1<<20 {
				return nil, fmt.Errorf("%s is larger than 1 MiB", path)
			}
			return string(b), nil
		})
		if err != nil {
			return nil, err
		}
	}
	return params, nil
}

// printPlan prints an upgrade plan: the versions, then one line per
// changed setting.
func printPlan(w io.Writer, p UpgradePlan) error {
	if p.FromVersion == p.ToVersion {
		fmt.Fprintf(w, "%s: version %s, upgraded again\n", p.Name, p.ToVersion)
	} else {
		fmt.Fprintf(w, "%s: version %s -> %s\n", p.Name, p.FromVersion, p.ToVersion)
	}
	if len(p.Changes) == 0 {
		fmt.Fprintln(w, "No setting changes.")
		return nil
	}
	t := table(w)
	fmt.Fprintln(t, "SETTING\tNOW\tAFTER")
	for _, c := range p.Changes {
		from, to := settingText(c.From), settingText(c.To)
		if c.Sensitive {
			from, to = "(hidden)", "(changed, hidden)"
		}
		if c.FromDefault {
			from += " (default)"
		}
		fmt.Fprintf(t, "%s\t%s\t%s\n", c.Name, from, to)
	}
	return t.Flush()
}

// settingText is a setting's value on one line.
func settingText(v any) string {
	switch v := v.(type) {
	case nil:
		return "-"
	case string:
		if v == "" {
			return `""`
		}
		return strconvQuoteIfNeeded(v)
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

// strconvQuoteIfNeeded quotes text holding spaces, tabs or control
// characters, so each setting stays on one line of the table.
func strconvQuoteIfNeeded(s string) string {
	if strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == '"' }) {
		return strconv.Quote(s)
	}
	return s
}
