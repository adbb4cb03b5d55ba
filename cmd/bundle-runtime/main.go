// Command bundle-runtime is /cnab/app/run inside every invocation image
// StackHub builds: it runs the current CNAB action of /cnab/app/porter.yaml
// step by step through the mixin runtimes (see package bundlerun).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/websoft9/stackhub/porter-mixin/bundlerun"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := bundlerun.Run(ctx, bundlerun.DefaultOptions())
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		os.Exit(1)
	}
}
