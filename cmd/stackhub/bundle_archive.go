package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/websoft9/stackhub/orchestrator/build"
	"github.com/websoft9/stackhub/orchestrator/dockerhost"
	"github.com/websoft9/stackhub/orchestrator/ocibundle"
)

func newBundleArchiveCmd() *cobra.Command {
	runtimes := DefaultConfig().RuntimesDir
	var ref, out string
	cmd := &cobra.Command{
		Use:   "archive (DIR | --reference REF) --output FILE.tgz",
		Short: "Write a bundle and all its images as one CNAB air-gap archive (bundle.json plus an OCI layout)",
		Long: `Write CNAB's air-gap form, as porter archive does: bundle.json, relocation-mapping.json and every
image (the invocation image and each images: entry) in an OCI image layout, in one gzipped tar.
Either build DIR/porter.yaml (images: entries come from the local Docker engine, else their registry)
or read a published bundle with --reference. stackhub bundle load FILE.tgz puts it into a Docker
engine that has no registry.`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
	}
	reg := registryFlags(cmd)
	cmd.Flags().StringVar(&ref, "reference", "", "archive the bundle published at REGISTRY/REPOSITORY:TAG instead of building DIR")
	cmd.Flags().StringVar(&out, "output", "", "the archive to write (required)")
	cmd.Flags().StringVar(&runtimes, "runtimes-dir", runtimes, "directory of bundle-runtime and websoft9-runtime (with DIR)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if out == "" {
			return usageErrorf("bundle archive: --output is required")
		}
		if (len(args) == 1) == (ref != "") {
			return usageErrorf("bundle archive: give either DIR or --reference")
		}
		docker, err := dockerhost.NewClient()
		if err != nil {
			return err
		}
		defer docker.Close()
		opts := ocibundle.ArchiveOptions{Registry: *reg, Docker: docker}
		if ref != "" {
			p, err := ocibundle.Pull(cmd.Context(), ref, *reg)
			if err != nil {
				return bundleExit(err)
			}
			opts.Bundle, opts.RelocationMap = p.Bundle, p.RelocationMap
		} else {
			res, err := build.Build(cmd.Context(), build.Options{Dir: args[0], RuntimesDir: runtimes})
			if err != nil {
				return err
			}
			opts.Bundle, opts.InvocationImage = res.Bundle, res.Image
		}
		// Write beside the target and rename, so a failed run leaves no half archive.
		f, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+"-*")
		if err != nil {
			return fmt.Errorf("bundle archive: %w", err)
		}
		defer os.Remove(f.Name())
		b, err := ocibundle.Archive(cmd.Context(), f, opts)
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("bundle archive: %w", cerr)
		}
		if err != nil {
			return bundleExit(err)
		}
		if err := os.Chmod(f.Name(), 0o644); err != nil {
			return fmt.Errorf("bundle archive: %w", err)
		}
		if err := os.Rename(f.Name(), out); err != nil {
			return fmt.Errorf("bundle archive: %w", err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "archived %s %s to %s (%d images)\n", b.Name, b.Version, out, 1+len(b.Images))
		return nil
	}
	return cmd
}
