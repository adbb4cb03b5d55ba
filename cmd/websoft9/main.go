// Command websoft9 is the websoft9 Porter mixin. The same program is built
// twice: websoft9 (client verbs: version, schema, build, lint) and
// websoft9-runtime (action verbs: install, upgrade, uninstall, invoke), as
// Porter installs a mixin.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	portermixin "github.com/websoft9/stackhub/porter-mixin"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string) int {
	m := portermixin.New()
	m.Compose = &portermixin.SDK{Out: m.Out}
	// Porter v0 appended --debug; it is accepted and ignored.
	var rest []string
	for _, a := range args {
		if a != "--debug" {
			rest = append(rest, a)
		}
	}
	if len(rest) == 0 {
		fmt.Fprintln(m.Err, "usage: websoft9 version|schema|build|lint|install|upgrade|uninstall|invoke --action NAME")
		return 2
	}
	var err error
	switch rest[0] {
	case "version":
		format := ""
		for i := 1; i < len(rest); i++ {
			switch {
			case (rest[i] == "--output" || rest[i] == "-o") && i+1 < len(rest):
				format = rest[i+1]
				i++
			case len(rest[i]) > 9 && rest[i][:9] == "--output=":
				format = rest[i][9:]
			}
		}
		err = m.PrintVersion(format)
	case "schema":
		err = m.PrintSchema()
	case "build":
		err = m.Build()
	case "lint":
		err = m.Lint()
	case "install", "upgrade":
		err = m.Install(ctx)
	case "uninstall":
		err = m.Uninstall(ctx)
	default:
		fmt.Fprintf(m.Err, "unknown command %q\n", rest[0])
		return 2
	}
	if err != nil {
		fmt.Fprintf(m.Err, "Error: %v\n", err)
		return 1
	}
	return 0
}
