package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/spf13/cobra"

	"github.com/websoft9/stackhub/orchestrator/ocibundle"
)

func newBundlePullCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "pull REFERENCE",
		Short: "Read a bundle from an OCI registry and print its name, version, digest and images",
		Args:  usageArgs(cobra.ExactArgs(1)),
	}
	reg := registryFlags(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json (reference, digest, bundle, relocationMap)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if output != "text" && output != "json" {
			return usageErrorf("bundle pull: -o %q: want text or json", output)
		}
		p, err := ocibundle.Pull(cmd.Context(), args[0], *reg)
		if err != nil {
			return bundleExit(err)
		}
		w := cmd.OutOrStdout()
		if output == "json" {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(map[string]any{"reference": p.Reference, "digest": p.Digest, "bundle": p.Bundle, "relocationMap": p.RelocationMap})
		}
		fmt.Fprintf(w, "bundle %s %s\n  reference: %s\n  digest: %s\n  invocation image: %s\n",
			p.Bundle.Name, p.Bundle.Version, p.Reference, p.Digest, p.Bundle.InvocationImages[0].Image)
		for _, alias := range slices.Sorted(maps.Keys(p.Bundle.Images)) {
			img := p.Bundle.Images[alias]
			fmt.Fprintf(w, "  image %s: %s → %s\n", alias, img.Image, p.RelocationMap[img.Image])
		}
		return nil
	}
	return cmd
}
