package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"

	"github.com/spf13/cobra"

	"github.com/websoft9/stackhub/orchestrator/dockerhost"
	"github.com/websoft9/stackhub/orchestrator/ocibundle"
)

func newBundleLoadCmd() *cobra.Command {
	var mapping string
	cmd := &cobra.Command{
		Use:   "load FILE.tgz",
		Short: "Verify an air-gap archive (stackhub bundle archive, porter archive) and load its images into Docker",
		Long: `Verify every image of an air-gap archive against bundle.json's contentDigest, then load the
images into the local Docker engine: no registry is needed. --write-relocation-mapping FILE writes
where each image now is, for serve --relocation-mapping.`,
		Args: usageArgs(cobra.ExactArgs(1)),
	}
	cmd.Flags().StringVar(&mapping, "write-relocation-mapping", "", "write the relocation mapping (image → loaded tag) to FILE")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		f, err := os.Open(args[0])
		if err != nil {
			return usageError(fmt.Errorf("bundle load: %w", err))
		}
		defer f.Close()
		docker, err := dockerhost.NewClient()
		if err != nil {
			return err
		}
		defer docker.Close()
		l, err := ocibundle.LoadArchive(cmd.Context(), f, docker)
		if err != nil {
			return bundleExit(err)
		}
		if mapping != "" {
			data, err := json.MarshalIndent(l.RelocationMap, "", "  ")
			if err != nil {
				return err
			}
			if err := os.WriteFile(mapping, append(data, '\n'), 0o644); err != nil {
				return fmt.Errorf("bundle load: %w", err)
			}
		}
		fmt.Fprintf(cmd.OutOrStdout(), "loaded %s %s\n", l.Bundle.Name, l.Bundle.Version)
		for _, img := range slices.Sorted(maps.Keys(l.RelocationMap)) {
			fmt.Fprintf(cmd.OutOrStdout(), "  %s → %s\n", img, l.RelocationMap[img])
		}
		return nil
	}
	return cmd
}
