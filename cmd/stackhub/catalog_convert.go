package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/websoft9/stackhub/orchestrator/storeconv"
)

// newCatalogConvertCmd is `stackhub catalog convert`: apps of another store
// become bundle directories, with a report of what could not be converted.
func newCatalogConvertCmd() *cobra.Command {
	var from, out, report string
	names := make([]string, len(storeconv.Stores))
	for i, s := range storeconv.Stores {
		names[i] = string(s)
	}
	cmd := &cobra.Command{
		Use:   "convert --from STORE SRC --out DIR [--report FILE.json]",
		Short: "Convert an app (or a whole store checkout) of " + strings.Join(names, ", ") + " into StackHub bundles",
		Long: `convert reads SRC, one app's folder or a checkout of a store, and writes one bundle directory per app into
DIR (porter.yaml with the websoft9 mixin, the compose file, the icon). Every published port, setting and
secret becomes a parameter; what only the store's runtime provides is mapped to StackHub's equivalent or
reported; an app that cannot run here is not written and its reasons are listed (--report FILE.json keeps
them all). Review each bundle before adding it (stackhub catalog add DIR) or publishing it.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := storeconv.ParseStore(from)
			if err != nil {
				return usageErrorf("--from: %v", err)
			}
			if out == "" {
				return usageErrorf("--out DIR is required")
			}
			start := time.Now()
			results, err := storeconv.Convert(cmd.Context(), store, args[0])
			if err != nil {
				return usageErrorf("%v", err)
			}
			w := cmd.OutOrStdout()
			for _, r := range results {
				warnings := 0
				for _, p := range r.Problems {
					if p.Severity == storeconv.Warning {
						warnings++
					}
				}
				if !r.Converted {
					fmt.Fprintf(w, "refused    %s (%s)\n", r.App, r.Source)
					for _, p := range r.Problems {
						if p.Severity == storeconv.Blocked {
							fmt.Fprintf(w, "           %s\n", problemLine(p))
						}
					}
					continue
				}
				dir, err := storeconv.Write(out, r)
				if err != nil {
					return fmt.Errorf("write %s: %w", r.App, err)
				}
				fmt.Fprintf(w, "converted  %s → %s (%d to review)\n", r.App, dir, warnings)
			}
			rep := storeconv.NewReport(results)
			fmt.Fprintf(w, "%d of %d apps converted in %s\n", rep.Converted, rep.Attempted, time.Since(start).Round(time.Millisecond))
			if report != "" {
				b, err := json.MarshalIndent(rep, "", "  ")
				if err != nil {
					return err
				}
				if err := os.WriteFile(report, append(b, '\n'), 0o644); err != nil {
					return fmt.Errorf("--report: %w", err)
				}
			}
			if rep.Converted == 0 {
				return fmt.Errorf("no app of %s could be converted", filepath.Clean(args[0]))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the store SRC comes from: "+strings.Join(names, ", "))
	cmd.Flags().StringVar(&out, "out", "", "directory to write the bundles into (one subdirectory per app)")
	cmd.Flags().StringVar(&report, "report", "", "write every app's result and problems to this JSON file")
	return cmd
}

func problemLine(p storeconv.Problem) string {
	if p.Where == "" {
		return p.Reason
	}
	return p.Where + ": " + p.Reason
}
