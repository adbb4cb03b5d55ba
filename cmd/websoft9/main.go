// Command websoft9 is the websoft9 Porter mixin. The same program is
// installed twice, as Porter installs a mixin: mixins/websoft9/websoft9 (the
// client verbs version, schema, build, lint) and
// mixins/websoft9/runtimes/websoft9-runtime (the action verbs install,
// upgrade, uninstall, invoke --action NAME). The protocol is
// porter-compat.md §5; the verbs live in package portermixin.
//
// Every verb accepts and ignores --debug (Porter v0 appended it) and reads
// its input from -f FILE instead of stdin when given. Errors go to stderr
// as "Error: <message>" with exit status 1; usage errors and unknown
// commands exit 2, the latter with "unknown command" on stderr, which
// Porter's lint takes as "this mixin does not lint".
//
// The hidden verb feed writes the Atom feed `porter mixins install
// --feed-url` reads (make mixin-dist uses it).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	portermixin "github.com/websoft9/stackhub/porter-mixin"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	m := portermixin.New()
	code := run(ctx, os.Args[1:], m, func(out io.Writer) (portermixin.Composer, portermixin.Execer) {
		sdk := &portermixin.SDK{Out: out}
		return sdk, sdk
	})
	stop()
	os.Exit(code)
}

const usage = "usage: websoft9 version [--output json|plaintext] | schema | build | lint | install | upgrade | uninstall | invoke --action NAME  [-f FILE] [--debug]"

// run executes one verb on m and returns the exit status. newBackend
// gives the runtime verbs their compose backend and the one that runs a
// step's exec commands, both writing progress to m.Out.
func run(ctx context.Context, args []string, m *portermixin.Mixin, newBackend func(io.Writer) (portermixin.Composer, portermixin.Execer)) int {
	var rest []string
	for _, a := range args {
		if a != "--debug" && a != "-debug" {
			rest = append(rest, a)
		}
	}
	if len(rest) == 0 {
		fmt.Fprintln(m.Err, usage)
		return 2
	}
	verb := rest[0]
	switch verb {
	case "version", "schema", "build", "lint", "install", "upgrade", "uninstall", "invoke", "feed":
	default:
		fmt.Fprintf(m.Err, "unknown command %q\n%s\n", verb, usage)
		return 2
	}
	fs := flag.NewFlagSet(verb, flag.ContinueOnError)
	fs.SetOutput(m.Err)
	var file, output, action, feedDir, feedURL, feedOut, feedKeep string
	fs.StringVar(&file, "f", "", "read the input from `FILE` instead of stdin")
	fs.StringVar(&file, "file", "", "read the input from `FILE` instead of stdin")
	switch verb {
	case "version":
		fs.StringVar(&output, "output", "", "json or plaintext")
		fs.StringVar(&output, "o", "", "json or plaintext")
	case "invoke":
		fs.StringVar(&action, "action", "", "the custom action")
	case "feed":
		fs.StringVar(&feedDir, "dir", "", "the directory holding <version>/websoft9-<goos>-<goarch>[.exe]")
		fs.StringVar(&feedURL, "url", "", "the base URL the directory is served at")
		fs.StringVar(&feedOut, "out", "", "write the feed to this file instead of stdout")
		fs.StringVar(&feedKeep, "existing", "", "an earlier feed whose other versions are kept")
	}
	if err := fs.Parse(rest[1:]); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(m.Err, "%s: unexpected arguments %q\n%s\n", verb, fs.Args(), usage)
		return 2
	}
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			fmt.Fprintf(m.Err, "Error: %v\n", err)
			return 1
		}
		defer f.Close()
		m.In = f
	}
	var err error
	switch verb {
	case "version":
		err = m.PrintVersion(output)
	case "schema":
		err = m.PrintSchema()
	case "build":
		err = m.Build()
	case "lint":
		err = m.Lint()
	case "install", "upgrade", "uninstall", "invoke":
		m.Compose, m.Exec = newBackend(m.Out)
		switch verb {
		case "install":
			err = m.Install(ctx)
		case "upgrade":
			err = m.Upgrade(ctx)
		case "uninstall":
			err = m.Uninstall(ctx)
		default:
			err = m.Invoke(ctx, action)
		}
	case "feed":
		err = writeFeed(feedDir, feedURL, feedOut, feedKeep, m.Out)
	}
	if err != nil {
		fmt.Fprintf(m.Err, "Error: %v\n", err)
		return 1
	}
	return 0
}

// writeFeed writes the mixin feed of dir, plus the other versions of the
// feed file existing when given, to out, or to the file outFile.
func writeFeed(dir, baseURL, outFile, existing string, out io.Writer) error {
	if dir == "" || baseURL == "" {
		return fmt.Errorf("feed: --dir and --url are required")
	}
	feed, err := portermixin.ScanFeed(os.DirFS(dir), baseURL)
	if err != nil {
		return err
	}
	if existing != "" {
		f, err := os.Open(existing)
		if err != nil {
			return fmt.Errorf("feed: %w", err)
		}
		earlier, err := portermixin.ReadFeed(f)
		f.Close()
		if err != nil {
			return err
		}
		feed.Keep(earlier)
	}
	for _, c := range feed.Categories {
		if _, ok := feed.Latest(c.Term); !ok {
			fmt.Fprintf(os.Stderr, "feed: warning: %s has no version without a pre-release: `porter mixins install %s --feed-url …` without --version asks for latest and finds none\n", c.Term, c.Term)
		}
	}
	if outFile == "" {
		return feed.Write(out)
	}
	f, err := os.Create(outFile)
	if err != nil {
		return fmt.Errorf("feed: %w", err)
	}
	if err := feed.Write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
