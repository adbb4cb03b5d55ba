package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/spf13/cobra"

	"github.com/websoft9/stackhub/orchestrator/build"
)

// catalogAdded is one bundle directory's outcome in `catalog add -o json`.
type catalogAdded struct {
	Dir string `json:"dir"`
	// App is the catalog entry, when it was added.
	App *CatalogApp `json:"app,omitempty"`
	// Error says why it was refused (lint errors are also in Findings).
	Error    string        `json:"error,omitempty"`
	Findings []lintFinding `json:"findings,omitempty"`
}

// newCatalogAddCmd is `stackhub catalog add DIR`: lint each bundle
// directory here, then send its files to the server, which lints, builds
// and keeps it.
func newCatalogAddCmd(o *remoteOptions) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "add DIR",
		Short: "Add a bundle directory (porter.yaml and its files), or every one in DIR's subdirectories, to the server's catalog",
		Long: `Add a bundle directory to the catalog of a running server: DIR holds a porter.yaml,
or its subdirectories each hold one (as the store converter writes them).
Each bundle is linted here first (as stackhub bundle lint does); one with errors
is not sent. The server lints it again against its bundle policy, builds it with
its runtimes and keeps it across restarts (admin token). Exit 0 only when every
bundle was added.`,
		Args: usageArgs(cobra.ExactArgs(1)),
	}
	cmd.Flags().BoolVar(&force, "force", false, "replace a catalog entry of the same name and version whose files differ")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := o.client()
		if err != nil {
			return err
		}
		dirs, err := bundleDirs(args[0])
		if err != nil {
			return usageError(err)
		}
		out := cmd.OutOrStdout()
		results := make([]catalogAdded, 0, len(dirs))
		var refused []error
		for _, dir := range dirs {
			r, err := addBundleDir(cmd.Context(), c, dir, force)
			results = append(results, r)
			if err != nil {
				refused = append(refused, err)
			}
			if o.json() {
				continue
			}
			if err := printCatalogAdded(out, r); err != nil {
				return err
			}
		}
		if o.json() {
			if err := writeJSON(out, results); err != nil {
				return err
			}
		}
		switch {
		case len(refused) == 0:
			return nil
		case len(dirs) == 1:
			return refused[0] // its exit code says why (400, 409, ...)
		default:
			return fmt.Errorf("catalog add: %d of %d bundle(s) refused", len(refused), len(dirs))
		}
	}
	return cmd
}

// bundleDirs is dir when it holds a porter.yaml, else its subdirectories
// that do, in name order.
func bundleDirs(dir string) ([]string, error) {
	if fileExists(filepath.Join(dir, build.ManifestFile)) {
		return []string{dir}, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() && fileExists(filepath.Join(dir, e.Name(), build.ManifestFile)) {
			dirs = append(dirs, filepath.Join(dir, e.Name()))
		}
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("%s: no %s in it or its subdirectories", dir, build.ManifestFile)
	}
	slices.Sort(dirs)
	return dirs, nil
}

// addBundleDir lints dir and, without errors, sends it. The error says
// why it was refused, wrapping the server's answer.
func addBundleDir(ctx context.Context, c *Client, dir string, force bool) (catalogAdded, error) {
	r := catalogAdded{Dir: dir}
	refuse := func(err error) (catalogAdded, error) {
		r.Error = err.Error()
		return r, fmt.Errorf("%s: %w", dir, err)
	}
	opts := build.LintOptions{Dir: dir, Mixins: map[string]build.MixinLinter{}}
	if prog := filepath.Join(executableDir(), "websoft9"); fileExists(prog) {
		opts.Mixins["websoft9"] = build.ProgramLinter("websoft9", prog)
	}
	findings, err := build.Lint(ctx, opts)
	if err != nil {
		return refuse(err)
	}
	if n := countErrors(findings); n > 0 {
		file := filepath.Join(dir, build.ManifestFile)
		for _, f := range findings {
			r.Findings = append(r.Findings, lintFinding{File: findingFile(file, f), Line: f.Line, Column: f.Column,
				Level: string(f.Level), Field: f.Field, Message: f.Message, Source: f.Source, Code: f.Code})
		}
		return refuse(usageError(fmt.Errorf("%d lint error(s)", n)))
	}
	var tarball bytes.Buffer
	if err := writeBundleTar(&tarball, dir); err != nil {
		return refuse(usageError(err))
	}
	app, err := c.AddBundleDir(ctx, &tarball, force)
	if err != nil {
		if ae, ok := errors.AsType[*APIError](err); ok {
			r.Error = ae.Message
			return r, fmt.Errorf("%s: %w", dir, err)
		}
		return refuse(err)
	}
	r.App = &app
	return r, nil
}

// printCatalogAdded prints a bundle's outcome: added with its source, or
// refused with the reason (and each lint finding).
func printCatalogAdded(w io.Writer, r catalogAdded) error {
	if r.App != nil {
		_, err := fmt.Fprintf(w, "%s: added %s %s (%s)\n", r.Dir, r.App.Name, r.App.Version, firstOf(r.App.Source, "catalog add"))
		return err
	}
	if _, err := fmt.Fprintf(w, "%s: refused: %s\n", r.Dir, r.Error); err != nil {
		return err
	}
	for _, f := range r.Findings {
		loc := f.File
		if f.Line > 0 {
			loc += fmt.Sprintf(":%d", f.Line)
		}
		msg := f.Message
		if f.Field != "" {
			msg = f.Field + ": " + msg
		}
		if _, err := fmt.Fprintf(w, "  %s: %s: %s\n", loc, f.Level, msg); err != nil {
			return err
		}
	}
	return nil
}
