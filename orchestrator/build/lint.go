package build

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/websoft9/stackhub/porter-mixin/manifest"
)

// MixinLinter lints the steps of one mixin in m, whose bundle directory is
// dir, as Porter runs `<mixin> lint`, and returns findings located in m
// (see manifest.MixinLintFindings). It returns an error only when the
// linter could not run or answered something unreadable.
type MixinLinter func(ctx context.Context, dir string, m *manifest.Manifest) ([]manifest.Finding, error)

// ProgramLinter returns the MixinLinter of a mixin program, speaking
// Porter's protocol: `program lint` with the mixin's BuildInput on stdin,
// a JSON array of results on stdout, run in the bundle directory as Porter
// runs it from there (a mixin may read the bundle's files). As with
// Porter, a program that fails saying "unknown command" has no lint and
// gives no finding.
func ProgramLinter(mixin, program string) MixinLinter {
	return func(ctx context.Context, dir string, m *manifest.Manifest) ([]manifest.Finding, error) {
		input, err := manifest.BuildInput(m, mixin)
		if err != nil {
			return nil, err
		}
		if strings.ContainsRune(program, filepath.Separator) {
			// A relative path would resolve against cmd.Dir.
			if program, err = filepath.Abs(program); err != nil {
				return nil, err
			}
		}
		var stdout, stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, program, "lint")
		cmd.Dir = dir
		cmd.Stdin = bytes.NewReader(input)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			if strings.Contains(stderr.String(), "unknown command") {
				return nil, nil
			}
			return nil, fmt.Errorf("%s lint: %w: %s", filepath.Base(program), err, strings.TrimSpace(stderr.String()))
		}
		return manifest.MixinLintFindings(m, mixin, stdout.Bytes())
	}
}

// LintOptions says what Lint checks.
type LintOptions struct {
	// Dir is the bundle directory holding porter.yaml.
	Dir string
	// Mixins maps a mixin name to its linter. A declared mixin without one
	// is not linted.
	Mixins map[string]MixinLinter
	// BundleOptions are passed to bundle.json generation.
	BundleOptions
}

// Lint checks a bundle directory as `porter lint` and `porter build` would,
// without building anything: porter.yaml (manifest.Lint, every finding at
// once); when that has no error, bundle.json generation and the bundle
// files, and the compose models against StackHub's bundle policy
// (lintPolicy); then each declared mixin with a linter. Findings are sorted by
// line, those without a line first. A failing mixin linter is itself an
// error finding. Lint returns an error only when porter.yaml cannot be read
// or ctx is done.
func Lint(ctx context.Context, opts LintOptions) ([]manifest.Finding, error) {
	raw, err := os.ReadFile(filepath.Join(opts.Dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("lint: %w", err)
	}
	m, findings := manifest.Lint(raw)
	if m == nil {
		return findings, nil
	}
	if !manifest.HasErrors(findings) {
		if _, _, err := generate(m, opts.BundleOptions); err != nil {
			findings = append(findings, manifest.Finding{Level: manifest.LevelError, Source: "bundle.json", Message: err.Error()})
		}
		if _, err := bundleEntries(ctx, opts.Dir); err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("lint %s: %w", opts.Dir, err)
			}
			findings = append(findings, manifest.Finding{Level: manifest.LevelError, Source: "files", Message: err.Error()})
		}
	}
	if !manifest.HasErrors(findings) {
		findings = append(findings, lintPolicy(ctx, opts.Dir, m)...)
	}
	for _, name := range m.Mixins {
		lint, ok := opts.Mixins[name]
		if !ok {
			continue
		}
		more, err := lint(ctx, opts.Dir, m)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("lint %s: %w", opts.Dir, err)
			}
			findings = append(findings, manifest.Finding{Level: manifest.LevelError, Source: name, Message: err.Error()})
			continue
		}
		findings = append(findings, more...)
	}
	slices.SortStableFunc(findings, func(a, b manifest.Finding) int { return a.Line - b.Line })
	return findings, nil
}
