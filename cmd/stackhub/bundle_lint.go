package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/websoft9/stackhub/orchestrator/build"
	"github.com/websoft9/stackhub/porter-mixin/manifest"
)

// lintFinding is one finding of `bundle lint -o json`.
type lintFinding struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Level   string `json:"level"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
	Source  string `json:"source,omitempty"`
	Code    string `json:"code,omitempty"`
}

func newBundleLintCmd() *cobra.Command {
	var output string
	var mixins []string
	cmd := &cobra.Command{
		Use:   "lint DIR",
		Short: "Check DIR/porter.yaml as porter lint does, printing every problem with its line; exit 1 on errors",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("bundle lint: -o %q: want text or json", output)
			}
			opts := build.LintOptions{Dir: args[0], Mixins: map[string]build.MixinLinter{}}
			for _, spec := range mixins {
				name, program, ok := strings.Cut(spec, "=")
				if !ok || name == "" || program == "" {
					return fmt.Errorf("bundle lint: --mixin %q: want NAME=PROGRAM", spec)
				}
				opts.Mixins[name] = build.ProgramLinter(name, program)
			}
			// The websoft9 client beside stackhub (make build puts both in
			// bin/) lints websoft9 steps unless --mixin says otherwise.
			if _, set := opts.Mixins["websoft9"]; !set {
				if prog := filepath.Join(executableDir(), "websoft9"); fileExists(prog) {
					opts.Mixins["websoft9"] = build.ProgramLinter("websoft9", prog)
				}
			}
			findings, err := build.Lint(cmd.Context(), opts)
			if err != nil {
				return err
			}
			file := filepath.Join(args[0], build.ManifestFile)
			if output == "json" {
				err = printLintJSON(cmd.OutOrStdout(), file, findings)
			} else {
				err = printLintText(cmd.OutOrStdout(), file, findings)
			}
			if err != nil {
				return err
			}
			if n := countErrors(findings); n > 0 {
				return fmt.Errorf("%s: %d error(s)", file, n)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json (an array of findings)")
	cmd.Flags().StringArrayVar(&mixins, "mixin", nil, "also lint a mixin's steps with its program, as Porter runs `PROGRAM lint` (NAME=PROGRAM, repeatable)")
	return cmd
}

func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

func countErrors(findings []manifest.Finding) int {
	n := 0
	for _, f := range findings {
		if f.Level == manifest.LevelError {
			n++
		}
	}
	return n
}

// printLintText prints one finding a line: FILE:LINE:COL: LEVEL: FIELD: MESSAGE (SOURCE CODE).
func printLintText(w io.Writer, file string, findings []manifest.Finding) error {
	if len(findings) == 0 {
		_, err := fmt.Fprintf(w, "%s: no problems found\n", file)
		return err
	}
	for _, f := range findings {
		var b strings.Builder
		b.WriteString(findingFile(file, f))
		if f.Line > 0 {
			fmt.Fprintf(&b, ":%d", f.Line)
			if f.Column > 0 {
				fmt.Fprintf(&b, ":%d", f.Column)
			}
		}
		fmt.Fprintf(&b, ": %s: ", f.Level)
		if f.Field != "" {
			b.WriteString(f.Field + ": ")
		}
		b.WriteString(f.Message)
		if origin := strings.TrimSpace(f.Source + " " + f.Code); origin != "" {
			b.WriteString(" (" + origin + ")")
		}
		b.WriteByte('\n')
		if _, err := io.WriteString(w, b.String()); err != nil {
			return err
		}
	}
	return nil
}

// findingFile is the file a finding is in: porter.yaml, or a bundle file
// beside it.
func findingFile(manifestFile string, f manifest.Finding) string {
	if f.File == "" {
		return manifestFile
	}
	return filepath.Join(filepath.Dir(manifestFile), f.File)
}

func printLintJSON(w io.Writer, file string, findings []manifest.Finding) error {
	out := make([]lintFinding, len(findings))
	for i, f := range findings {
		out[i] = lintFinding{
			File: findingFile(file, f), Line: f.Line, Column: f.Column, Level: string(f.Level),
			Field: f.Field, Message: f.Message, Source: f.Source, Code: f.Code,
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
