package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/websoft9/stackhub/porter-mixin/naming"
)

func newAppLogsCmd(o *remoteOptions) *cobra.Command {
	var opts LogsOptions
	cmd := &cobra.Command{
		Use:   "logs NAME",
		Short: "Print the logs of app NAME's main container, or of --container",
		Long: `Print the logs of app NAME's main container (websoft9-NAME), or of another of
its containers named by --container, as a full name (websoft9-NAME-db) or a
compose service (db). -f follows until Ctrl-C, which ends with exit 0.
With -o json each line is a JSON object {"line": "..."} on a line of its own.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Tail < 0 {
				return usageErrorf("--tail %d: want 0 (all) or more lines", opts.Tail)
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			opts.Container = containerOf(args[0], opts.Container)
			rc, err := c.AppLogs(cmd.Context(), args[0], opts)
			if err != nil && opts.Follow && cmd.Context().Err() != nil {
				return nil // Ctrl-C before the first line
			}
			if err != nil {
				return fmt.Errorf("logs %s: %w", args[0], err)
			}
			defer rc.Close()
			err = copyLogLines(cmd.OutOrStdout(), rc, o.json())
			if err != nil && cmd.Context().Err() != nil {
				return nil // Ctrl-C ends a follow
			}
			if err != nil {
				return fmt.Errorf("logs %s: %w", args[0], &UnreachableError{URL: c.BaseURL, Err: err})
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&opts.Tail, "tail", 0, "print only the last N lines (0: all)")
	cmd.Flags().BoolVarP(&opts.Follow, "follow", "f", false, "keep printing new lines until Ctrl-C")
	cmd.Flags().StringVar(&opts.Container, "container", "", "another of the app's containers: a name or a compose service")
	return cmd
}

// containerOf is the container --container names for app: as given when
// it is one of ours (websoft9-…), else the app's service of that name.
func containerOf(app, container string) string {
	if container == "" || strings.HasPrefix(container, naming.Prefix) {
		return container
	}
	return naming.Container(app, container, false)
}

// copyLogLines copies log text line by line, each as {"line": …} under
// asJSON, flushing nothing itself: w gets every line as it comes.
func copyLogLines(w io.Writer, r io.Reader, asJSON bool) error {
	br := bufio.NewReader(r)
	enc := json.NewEncoder(w)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			var werr error
			if asJSON {
				werr = enc.Encode(struct {
					Line string `json:"line"`
				}{strings.TrimRight(line, "\r\n")})
			} else {
				_, werr = io.WriteString(w, line)
			}
			if werr != nil {
				return werr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
