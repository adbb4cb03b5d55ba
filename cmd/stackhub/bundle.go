package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/websoft9/stackhub/orchestrator/build"
	"github.com/websoft9/stackhub/orchestrator/dockerhost"
)

func newBundleCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "bundle", Short: "Build, lint, publish, pull and archive Porter bundles"}
	runtimes := DefaultConfig().RuntimesDir
	var noLoad bool
	b := &cobra.Command{
		Use:   "build DIR",
		Short: "Build DIR/porter.yaml into DIR/.cnab/bundle.json and an invocation image loaded into Docker, as porter build does",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := build.Build(cmd.Context(), build.Options{Dir: args[0], RuntimesDir: runtimes})
			if err != nil {
				return err
			}
			digest, err := res.Image.Digest()
			if err != nil {
				return err
			}
			if !noLoad {
				docker, err := dockerhost.NewClient()
				if err != nil {
					return err
				}
				defer docker.Close()
				if err := build.Load(cmd.Context(), docker, res); err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "bundle %s %s\n  bundle.json: %s\n  invocation image: %s (%s)\n",
				res.Manifest.Name, res.Manifest.Version, filepath.Join(args[0], ".cnab", "bundle.json"), res.ImageRef, digest)
			return nil
		},
	}
	b.Flags().StringVar(&runtimes, "runtimes-dir", runtimes, "directory of bundle-runtime and websoft9-runtime")
	b.Flags().BoolVar(&noLoad, "no-load", false, "do not load the invocation image into Docker")
	cmd.AddCommand(b)
	cmd.AddCommand(newBundleLintCmd())
	cmd.AddCommand(newBundlePublishCmd(), newBundlePullCmd(), newBundleArchiveCmd(), newBundleLoadCmd())
	return cmd
}
