package main

import (
	"github.com/spf13/cobra"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/orchestrator/ocibundle"
)

// registryFlags adds the flags every registry command shares and returns
// the settings they fill. Credentials come from the Docker client
// configuration ($DOCKER_CONFIG or ~/.docker/config.json, with its
// credential helpers), as docker login leaves them.
func registryFlags(cmd *cobra.Command) *ocibundle.Registry {
	reg := &ocibundle.Registry{}
	cmd.Flags().StringArrayVar(&reg.Insecure, "insecure-registry", nil, "a registry (HOST or HOST:PORT, repeatable) that may be reached over plain HTTP or with an unverified TLS certificate; loopback registries are always plain HTTP")
	return reg
}

// bundleExit gives a domain error from ocibundle the CLI's exit code (3 not
// found, 4 conflict, 5 unauthorized, 6 unavailable, 2 invalid input).
func bundleExit(err error) error {
	if err == nil {
		return nil
	}
	code := map[string]int{
		orchestrator.ENOTFOUND: exitNotFound, orchestrator.ECONFLICT: exitConflict,
		orchestrator.EUNAUTHORIZED: exitUnauthorized, orchestrator.EUNAVAILABLE: exitUnavailable,
		orchestrator.EINVALID: exitUsage,
	}[orchestrator.ErrorCode(err)]
	if code == 0 {
		code = exitFailed
	}
	return &exitError{code: code, err: err}
}
