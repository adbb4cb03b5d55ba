package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"
)

// passwordEnv is where backup repository add reads a password when no
// --password-file is given: never from an argument, which ps shows.
const passwordEnv = "STACKHUB_REPOSITORY_PASSWORD"

func newAppBackupCmd(o *remoteOptions) *cobra.Command {
	var repository string
	var noWait bool
	cmd := &cobra.Command{
		Use:   "backup NAME",
		Short: "Back app NAME up: its volumes, settings and bundle in one snapshot",
		Long: `Back app NAME up into a backup repository (the default one unless
--repository): its named volumes, its installation record (settings,
secrets, ports) and its bundle, in one snapshot, deduplicated, compressed
and encrypted. The app is kept still for the copy: its bundle's backup and
postBackup actions when it has them, else its containers are stopped and
started again after; the result says which.
` + waitHelp,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			job, err := c.BackUp(cmd.Context(), args[0], repository)
			if err != nil {
				return fmt.Errorf("back up %s: %w", args[0], err)
			}
			return followJob(cmd, o, c, args[0], "backup", job.ID, noWait)
		},
	}
	cmd.Flags().StringVar(&repository, "repository", "", "the repository (default: the default one)")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "return once the backup job is accepted")
	return cmd
}

func newAppRestoreCmd(o *remoteOptions) *cobra.Command {
	var repository, name, node string
	var noWait bool
	cmd := &cobra.Command{
		Use:   "restore BACKUP",
		Short: "Put a backup back: into its app, or as a clone under --name",
		Long: `Put backup BACKUP (stackhub backup list shows them) back. Into its own app
while it is installed: its current data is backed up first (the result
names that backup), then replaced. Into its app after an uninstall, or
into --name NEW: the backup's bundle version is installed with the
backup's settings and data (new ports for a clone).
` + waitHelp,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			app, job, err := c.RestoreOn(cmd.Context(), args[0], repository, name, node)
			if err != nil {
				return fmt.Errorf("restore %s: %w", args[0], err)
			}
			return followJob(cmd, o, c, app.AppName, "restore", job.ID, noWait)
		},
	}
	cmd.Flags().StringVar(&repository, "repository", "", "the repository (default: the default one)")
	cmd.Flags().StringVar(&name, "name", "", "restore into this installation (a clone when it is not the backup's app)")
	cmd.Flags().StringVar(&node, "node", "", "on a Swarm, the node a restore into an app not installed goes on (default: StackHub picks)")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "return once the restore job is accepted")
	return cmd
}

func newBackupCmd(getenv env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "List, verify, prune and delete backups, and manage their repositories",
		Long: `List, verify, prune and delete backups, and manage the repositories they
live in (a directory or an S3-compatible bucket, encrypted with a password
StackHub keeps sealed). Take and restore backups with stackhub app backup
and stackhub app restore. See stackhub --help for how the server and token
are found.`,
		RunE: groupRunE,
	}
	o := newRemoteOptions(cmd, getenv)
	var repository string
	cmd.PersistentFlags().StringVar(&repository, "repository", "", "the repository (default: the default one)")
	list := &cobra.Command{
		Use:   "list [APP]",
		Short: "List the backups (of APP), newest first",
		Args:  usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			app := ""
			if len(args) == 1 {
				app = args[0]
			}
			list, err := c.Backups(cmd.Context(), app, repository)
			if err != nil {
				return fmt.Errorf("backups: %w", err)
			}
			return o.render(cmd.OutOrStdout(), list, func(w io.Writer) error {
				t := table(w)
				fmt.Fprintln(t, "ID\tAPP\tVERSION\tCREATED\tSIZE\tFILES\tQUIESCE")
				for _, b := range list {
					fmt.Fprintf(t, "%s\t%s\t%s %s\t%s\t%s\t%d\t%s\n", b.ID, b.Installation, b.App, b.Version,
						b.Created.Local().Format(time.DateTime), humanize.IBytes(uint64(max(b.Size, 0))), b.Files, b.Quiesce)
				}
				return t.Flush()
			})
		},
	}
	verify := &cobra.Command{
		Use:   "verify [ID]",
		Short: "Read backup ID (every backup without one) back and check every chunk",
		Args:  usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			id := ""
			if len(args) == 1 {
				id = args[0]
			}
			res, err := c.VerifyBackup(cmd.Context(), id, repository)
			if err != nil {
				return fmt.Errorf("verify: %w", err)
			}
			err = o.render(cmd.OutOrStdout(), res, func(w io.Writer) error {
				fmt.Fprintf(w, "read %d backups: %s in %d files\n", res.Backups, humanize.IBytes(uint64(max(res.Bytes, 0))), res.Files)
				for _, e := range res.Errors {
					fmt.Fprintf(w, "DAMAGED: %s\n", e)
				}
				return nil
			})
			if err == nil && len(res.Errors) > 0 {
				return fmt.Errorf("verify: %d damaged objects", len(res.Errors))
			}
			return err
		},
	}
	var keep Retention
	prune := &cobra.Command{
		Use:   "prune APP",
		Short: "Keep APP's newest backups by the --keep-* rules, delete the rest and collect their data",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if keep == (Retention{}) {
				return usageErrorf("say what to keep: --keep-last, --keep-daily, --keep-weekly or --keep-monthly")
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			gone, err := c.PruneBackups(cmd.Context(), args[0], repository, keep)
			if err != nil {
				return fmt.Errorf("prune %s: %w", args[0], err)
			}
			return o.render(cmd.OutOrStdout(), gone, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "removed %d backups %s\n", len(gone), strings.Join(gone, " "))
				return err
			})
		},
	}
	prune.Flags().IntVar(&keep.Last, "keep-last", 0, "keep the last N backups")
	prune.Flags().IntVar(&keep.Daily, "keep-daily", 0, "keep the newest backup of each of the last N days")
	prune.Flags().IntVar(&keep.Weekly, "keep-weekly", 0, "keep the newest backup of each of the last N weeks")
	prune.Flags().IntVar(&keep.Monthly, "keep-monthly", 0, "keep the newest backup of each of the last N months")
	del := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete backup ID (its data goes at the next prune)",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			return c.DeleteBackup(cmd.Context(), args[0], repository)
		},
	}
	cmd.AddCommand(list, verify, prune, del, newRepositoryCmd(o, getenv), newPolicyCmd(o))
	return cmd
}

func newPolicyCmd(o *remoteOptions) *cobra.Command {
	var p BackupPolicy
	var clear bool
	cmd := &cobra.Command{
		Use:   "policy [APP]",
		Short: "Show or set when APP (without one: every app) is backed up and which backups stay",
		Long: `Show the backup policy APP follows (its own, or the default), or without
APP the default of every app without its own. With --schedule or --keep-*,
set it: --schedule takes a cron expression of five fields in the server's
local time ("0 3 * * *": 03:00 every day) or @hourly, @daily, @weekly,
@monthly; "" stops scheduled backups. After each scheduled backup the
--keep-* rules apply. --clear removes APP's own policy.`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			f := cmd.Flags()
			setting := f.Changed("schedule") || f.Changed("repository") || f.Changed("keep-last") || f.Changed("keep-daily") ||
				f.Changed("keep-weekly") || f.Changed("keep-monthly")
			var pol BackupPolicy
			switch {
			case clear && name == "":
				return usageErrorf("--clear removes an app's own policy: name the app")
			case clear:
				if err := c.ClearBackupPolicy(cmd.Context(), name); err != nil {
					return fmt.Errorf("policy of %s: %w", name, err)
				}
				pol, err = c.BackupPolicy(cmd.Context(), name)
			case setting:
				pol, err = c.SetBackupPolicy(cmd.Context(), name, p)
			default:
				pol, err = c.BackupPolicy(cmd.Context(), name)
			}
			if err != nil {
				return fmt.Errorf("backup policy: %w", err)
			}
			return o.render(cmd.OutOrStdout(), pol, func(w io.Writer) error {
				t := table(w)
				sched := pol.Schedule
				if sched == "" {
					sched = "(none: no scheduled backups)"
				}
				fmt.Fprintf(t, "schedule\t%s\n", sched)
				if pol.Next != nil {
					fmt.Fprintf(t, "next\t%s\n", pol.Next.Local().Format(time.DateTime))
				}
				fmt.Fprintf(t, "keep\tlast %d, daily %d, weekly %d, monthly %d\n", pol.Keep.Last, pol.Keep.Daily, pol.Keep.Weekly, pol.Keep.Monthly)
				if pol.Repository != "" {
					fmt.Fprintf(t, "repository\t%s\n", pol.Repository)
				}
				if pol.Inherited {
					fmt.Fprintf(t, "from\tthe default policy\n")
				}
				return t.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&p.Schedule, "schedule", "", `a cron expression ("0 3 * * *") or @hourly, @daily, @weekly, @monthly`)
	cmd.Flags().StringVar(&p.Repository, "repository", "", "the repository the backups go to")
	cmd.Flags().IntVar(&p.Keep.Last, "keep-last", 0, "keep the last N backups")
	cmd.Flags().IntVar(&p.Keep.Daily, "keep-daily", 0, "keep the newest backup of each of the last N days")
	cmd.Flags().IntVar(&p.Keep.Weekly, "keep-weekly", 0, "keep the newest backup of each of the last N weeks")
	cmd.Flags().IntVar(&p.Keep.Monthly, "keep-monthly", 0, "keep the newest backup of each of the last N months")
	cmd.Flags().BoolVar(&clear, "clear", false, "remove APP's own policy (the default applies)")
	return cmd
}

func newRepositoryCmd(o *remoteOptions, getenv env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "repository",
		Short: "List, add and remove backup repositories (admins)",
		RunE:  groupRunE,
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the backup repositories",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			repos, err := c.Repositories(cmd.Context())
			if err != nil {
				return fmt.Errorf("repositories: %w", err)
			}
			return o.render(cmd.OutOrStdout(), repos, func(w io.Writer) error {
				t := table(w)
				fmt.Fprintln(t, "ID\tKIND\tWHERE\tDEFAULT")
				for _, r := range repos {
					def := ""
					if r.Default {
						def = "yes"
					}
					fmt.Fprintf(t, "%s\t%s\t%s\t%s\n", r.ID, r.Kind, r.Where, def)
				}
				return t.Flush()
			})
		},
	}
	var req RepositoryRequest
	var passwordFile, secretKeyFile string
	add := &cobra.Command{
		Use:   "add ID",
		Short: "Add a backup repository: --path DIR, or --endpoint/--bucket for S3",
		Long: `Add backup repository ID: a directory (--path, absolute) or an
S3-compatible bucket (--endpoint HOST:PORT --bucket B [--prefix P]
[--region R] --access-key K --secret-key-file F [--insecure for plain
HTTP]). --create makes a new repository there; without it, the one there
is opened. The password comes from --password-file or the environment
variable ` + passwordEnv + `, never from an argument; StackHub keeps it
sealed, and a restore on another host needs only it.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.ID = args[0]
			req.Kind = "filesystem"
			if req.Bucket != "" || req.Endpoint != "" {
				req.Kind = "s3"
			}
			pw, err := secretInput(passwordFile, getenv(passwordEnv), "the repository's password: --password-file F or "+passwordEnv)
			if err != nil {
				return err
			}
			req.Password = pw
			if secretKeyFile != "" {
				if req.SecretKey, err = secretInput(secretKeyFile, "", ""); err != nil {
					return err
				}
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			r, err := c.AddRepository(cmd.Context(), req)
			if err != nil {
				return fmt.Errorf("add repository %s: %w", req.ID, err)
			}
			return o.render(cmd.OutOrStdout(), r, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "repository %s: %s\n", r.ID, r.Where)
				return err
			})
		},
	}
	add.Flags().StringVar(&req.Path, "path", "", "a directory (absolute) for a filesystem repository")
	add.Flags().StringVar(&req.Endpoint, "endpoint", "", "an S3 endpoint, HOST:PORT")
	add.Flags().StringVar(&req.Bucket, "bucket", "", "the S3 bucket")
	add.Flags().StringVar(&req.Prefix, "prefix", "", "a prefix for the repository's objects in the bucket")
	add.Flags().StringVar(&req.Region, "region", "", "the S3 region")
	add.Flags().StringVar(&req.AccessKey, "access-key", "", "the S3 access key ID")
	add.Flags().StringVar(&secretKeyFile, "secret-key-file", "", "a file holding the S3 secret key")
	add.Flags().BoolVar(&req.Insecure, "insecure", false, "speak plain HTTP to the S3 endpoint")
	add.Flags().StringVar(&passwordFile, "password-file", "", "a file holding the repository's password")
	add.Flags().BoolVar(&req.Create, "create", false, "create a new repository at the location")
	add.Flags().BoolVar(&req.Default, "default", false, "make it the default repository")
	remove := &cobra.Command{
		Use:   "remove ID",
		Short: "Forget backup repository ID (its data stays where it is)",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			return c.RemoveRepository(cmd.Context(), args[0])
		},
	}
	cmd.AddCommand(list, add, remove)
	return cmd
}

// secretInput reads a secret from file (its first line), else takes
// fallback; missing says what to give when neither is.
func secretInput(file, fallback, missing string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", usageErrorf("%s: %v", file, err)
		}
		line, _, _ := strings.Cut(string(b), "\n")
		return strings.TrimRight(line, "\r"), nil
	}
	if fallback == "" && missing != "" {
		return "", usageErrorf("give %s", missing)
	}
	return fallback, nil
}
