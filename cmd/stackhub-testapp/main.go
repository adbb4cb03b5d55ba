// Command stackhub-testapp is the program inside the test image
// stackhub-test/web:dev (FROM scratch). One binary plays every role a test
// bundle needs:
//
//	stackhub-testapp http [-addr :8080] [-state DIR]
//	                                      HTTP 200 on / (echoes its env as JSON) and /healthz;
//	                                      with -state, DIR/created keeps the time of the first
//	                                      start (served on /state), to show a volume survives
//	stackhub-testapp tcp [-addr :5432]    a TCP service standing in for a database
//	stackhub-testapp probe http URL       health check: exit 0 on HTTP 200
//	stackhub-testapp probe tcp ADDR       health check: exit 0 when ADDR accepts
//	stackhub-testapp exit N               exit with status N (a failing app)
//	stackhub-testapp write FILE NAME...   write NAME=<value of $NAME> lines to FILE (an exec
//	                                      command that leaves something to read back)
//
// In a stand-in image (one that sets STACKHUB_STANDIN_PORTS, see package
// standin) it ignores these modes and plays the image it stands in for:
// as the container's own process it listens on the image's ports whatever
// argv it was given; started by docker exec under another name (curl,
// pg_isready, /bin/sh, ...) it is that image's health check.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/websoft9/stackhub/orchestrator/dockerhost/dockertest/standin"
)

func main() {
	if spec, ok := os.LookupEnv(standin.PortsEnv); ok {
		os.Exit(standIn(spec, os.Args, os.Getpid(), os.Getppid(), os.Getenv, os.Stderr))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// standIn is the stand-in mode: Serve as the container's own process,
// else Check as the program argv[0] names.
func standIn(spec string, argv []string, pid, ppid int, getenv func(string) string, stderr io.Writer) int {
	ports, err := standin.ParsePorts(spec)
	if err == nil {
		ports, err = standin.ResolvePorts(ports, getenv)
	}
	if err != nil {
		return report(stderr, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if standin.Serves(pid, ppid) {
		fmt.Fprintf(stderr, "stackhub-testapp: started as %q\n", argv)
		return report(stderr, standin.Serve(ctx, ports, getenv(standin.ImageEnv), stderr))
	}
	return report(stderr, standin.Check(ctx, argv, ports, getenv, stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: stackhub-testapp http|tcp|probe|exit|write ...")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "http":
		fs := flag.NewFlagSet("http", flag.ContinueOnError)
		addr := fs.String("addr", ":8080", "listen address")
		state := fs.String("state", "", "directory that keeps the time of the first start")
		if err := fs.Parse(args[1:]); err != nil {
			return 2
		}
		return report(stderr, serveHTTP(ctx, *addr, *state))
	case "tcp":
		fs := flag.NewFlagSet("tcp", flag.ContinueOnError)
		addr := fs.String("addr", ":5432", "listen address")
		if err := fs.Parse(args[1:]); err != nil {
			return 2
		}
		return report(stderr, serveTCP(ctx, *addr))
	case "probe":
		if len(args) != 3 {
			fmt.Fprintln(stderr, "usage: stackhub-testapp probe http URL | probe tcp ADDR")
			return 2
		}
		return report(stderr, probe(args[1], args[2]))
	case "exit":
		n := 1
		if len(args) > 1 {
			n, _ = strconv.Atoi(args[1])
		}
		fmt.Fprintf(stderr, "stackhub-testapp: exiting with status %d as asked\n", n)
		return n
	case "write":
		if len(args) < 2 {
			fmt.Fprintln(stderr, "usage: stackhub-testapp write FILE NAME...")
			return 2
		}
		var b strings.Builder
		for _, name := range args[2:] {
			fmt.Fprintf(&b, "%s=%s\n", name, os.Getenv(name))
		}
		if err := os.WriteFile(args[1], []byte(b.String()), 0o644); err != nil {
			return report(stderr, err)
		}
		fmt.Fprintf(stdout, "stackhub-testapp: wrote %d variables to %s\n", len(args)-2, args[1])
		return 0
	}
	fmt.Fprintf(stderr, "unknown mode %q\n", args[0])
	return 2
}

func report(w io.Writer, err error) int {
	if err != nil {
		fmt.Fprintln(w, "stackhub-testapp:", err)
		return 1
	}
	return 0
}

func serveHTTP(ctx context.Context, addr, stateDir string) error {
	created := ""
	if stateDir != "" {
		path := stateDir + "/created"
		b, err := os.ReadFile(path)
		if os.IsNotExist(err) {
			b = []byte(strconv.FormatInt(time.Now().UnixNano(), 10))
			err = os.WriteFile(path, b, 0o644)
		}
		if err != nil {
			return fmt.Errorf("state: %w", err)
		}
		created = string(b)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/state", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, created)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		env := map[string]string{}
		keys := []string{}
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
			keys = append(keys, k)
		}
		sort.Strings(keys)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"app": "stackhub-testapp", "path": r.URL.Path, "env": env})
	})
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintf(os.Stderr, "stackhub-testapp: http listening on %s\n", addr)
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		return err
	}
	return nil
}

func serveTCP(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		_, _ = c.Write([]byte("stackhub-testapp db ready\n"))
		c.Close()
	}
}

func probe(kind, target string) error {
	switch kind {
	case "http":
		client := &http.Client{Timeout: 2 * time.Second}
		resp, err := client.Get(target)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: status %d", target, resp.StatusCode)
		}
		return nil
	case "tcp":
		c, err := net.DialTimeout("tcp", target, 2*time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	}
	return fmt.Errorf("unknown probe %q", kind)
}
