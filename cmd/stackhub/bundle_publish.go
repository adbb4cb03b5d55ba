package main

import (
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/websoft9/stackhub/orchestrator/build"
	"github.com/websoft9/stackhub/orchestrator/dockerhost"
	"github.com/websoft9/stackhub/orchestrator/ocibundle"
)

func newBundlePublishCmd() *cobra.Command {
	runtimes := DefaultConfig().RuntimesDir
	var ref string
	var force bool
	cmd := &cobra.Command{
		Use:   "publish DIR",
		Short: "Build DIR/porter.yaml and push the bundle, its invocation image and its images to an OCI registry, as porter publish does",
		Long: `Build DIR/porter.yaml and push it in CNAB's OCI form (cnab-to-oci, the layout porter publish
produces). --reference REGISTRY/REPOSITORY[:TAG] defaults to porter.yaml's registry/name; the tag
defaults to v<version>. images: entries the local Docker engine holds are pushed from it, others are
copied from their registry. An existing tag is replaced only with --force.`,
		Args: usageArgs(cobra.ExactArgs(1)),
	}
	reg := registryFlags(cmd)
	cmd.Flags().StringVar(&ref, "reference", "", "REGISTRY/REPOSITORY[:TAG] to publish to (default: porter.yaml's registry and name, tag v<version>)")
	cmd.Flags().BoolVar(&force, "force", false, "replace the tag if it exists")
	cmd.Flags().StringVar(&runtimes, "runtimes-dir", runtimes, "directory of bundle-runtime and websoft9-runtime")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		res, err := build.Build(cmd.Context(), build.Options{Dir: args[0], RuntimesDir: runtimes})
		if err != nil {
			return err
		}
		if ref == "" {
			ref = res.Reference
		}
		docker, err := dockerhost.NewClient()
		if err != nil {
			return err
		}
		defer docker.Close()
		pub, err := ocibundle.Publish(cmd.Context(), ocibundle.PublishOptions{
			Reference: ref, Bundle: res.Bundle, InvocationImage: res.Image, Force: force,
			Registry: *reg, Docker: docker,
			Logger: slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil)),
		})
		if err != nil {
			return bundleExit(err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "published %s %s\n  reference: %s\n  digest: %s\n  invocation image: %s\n",
			res.Manifest.Name, res.Manifest.Version, pub.Reference, pub.Digest, pub.Bundle.InvocationImages[0].Image)
		return nil
	}
	return cmd
}
