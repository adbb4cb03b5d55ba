// Command stackhub-release builds what a StackHub release ships (make
// release): the static binaries stackhub, websoft9, websoft9-runtime and
// bundle-runtime for linux/amd64 and linux/arm64, stamped with the
// version, commit and commit time; a Debian package per architecture
// (nfpm's Go API, packaging/deb); install.sh; and SHA256SUMS over them all.
//
//	stackhub-release [-version V] [-arch amd64,arm64] [-out dist]
//
// The version is VERSION's, else `git describe --tags --always --dirty`;
// the date is the commit's, so two builds of one commit are identical.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("stackhub-release", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts Options
	var arches string
	fs.StringVar(&opts.Version, "version", getenv("VERSION"), "the release's version, e.g. v1.2.0 (default $VERSION, else git describe --tags --always --dirty)")
	fs.StringVar(&arches, "arch", "amd64,arm64", "the Linux architectures to build, comma-separated")
	fs.StringVar(&opts.Out, "out", "dist", "the directory the release is written to (its files are replaced)")
	fs.StringVar(&opts.Root, "root", ".", "the repository's root (the module, packaging/)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "stackhub-release: unexpected arguments %q\n", fs.Args())
		return 2
	}
	opts.Arches = strings.Split(arches, ",")
	opts.Log = stderr
	files, err := Release(ctx, opts)
	if err != nil {
		fmt.Fprintf(stderr, "stackhub-release: %v\n", err)
		return 1
	}
	for _, f := range files {
		fmt.Fprintln(stdout, f)
	}
	return 0
}
