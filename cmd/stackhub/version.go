package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/websoft9/stackhub/web/wire"
)

// Set at link time by make build and make release:
//
//	-ldflags "-X main.version=v1.2.3 -X main.commit=abcdef0 -X main.date=2026-12-06T05:00:00Z"
var (
	version = ""
	commit  = ""
	date    = ""
)

// buildInfo is this binary's version, commit and build date: the stamped
// ones, else what the Go toolchain recorded (a go build in a checkout),
// else "dev".
func buildInfo() wire.BuildInfo {
	b := wire.BuildInfo{Version: version, Commit: commit, Date: date, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if b.Commit == "" {
					b.Commit = s.Value
				}
			case "vcs.time":
				if b.Date == "" {
					b.Date = s.Value
				}
			case "vcs.modified":
				if s.Value == "true" && version == "" {
					b.Dirty = true
				}
			}
		}
		if b.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			b.Version = info.Main.Version
		}
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	return b
}

func newVersionCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print StackHub's version, commit and build date",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b := buildInfo()
			switch output {
			case "json":
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(b)
			case "text":
				commit := b.Commit
				if len(commit) > 12 {
					commit = commit[:12]
				}
				if commit == "" {
					commit = "unknown"
				}
				if b.Dirty {
					commit += "+changes"
				}
				_, err := fmt.Fprintf(cmd.OutOrStdout(), "stackhub %s (commit %s, built %s, %s, %s)\n", b.Version, commit, orUnknown(b.Date), b.GoVersion, b.Platform)
				return err
			default:
				return usageErrorf("-o %q: text or json", output)
			}
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
