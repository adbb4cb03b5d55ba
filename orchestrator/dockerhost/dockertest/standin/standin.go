// Package standin is what a stand-in image does: a local test image that
// takes the place of a catalog image nobody can pull here, with the same
// shape (the ports the app listens on, the programs its health check and
// its exec commands start, the users they run as). The program in every
// stand-in is stackhub-testapp; this package is its stand-in mode, shared
// with the test that builds the images so that both read a health check
// the same way. It imports only the standard library.
//
// One binary plays two roles, told apart by how it was started:
//
//   - the container's own process (PID 1, or the child of an init that is
//     PID 1), whatever argv, command or entrypoint compose gives it,
//     listens on the image's ports (PortsEnv): HTTP 200 on every path of a
//     tcp port, an echo on a udp one (Serve);
//   - a process docker exec started (a health check or an exec command,
//     whose parent is outside the container), under whatever name it was
//     linked as (curl, pg_isready, /bin/sh, ...), checks the app as that
//     program would: it GETs the http(s) URLs in its arguments on
//     127.0.0.1 at the URL's port, else connects to the image's tcp ports,
//     else succeeds (Check).
package standin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Settings a stand-in image carries.
const (
	// PortsEnv lists the ports a stand-in listens on, e.g.
	// "3001/tcp,51820/udp"; a port may be a variable of the container's
	// environment, "$WEB_PORT/tcp" (a host-network app listens on the host
	// port StackHub chose). Its presence is what makes stackhub-testapp a
	// stand-in (empty: no port).
	PortsEnv = "STACKHUB_STANDIN_PORTS"
	// ImageEnv is the catalog image the stand-in takes the place of; its
	// HTTP answers name it, so a test sees which image answered.
	ImageEnv = "STACKHUB_STANDIN_IMAGE"
	// Label marks a stand-in image (its value is ImageEnv's): test images,
	// safe to remove.
	Label = "sh.websoft9.standin"
)

// Port is one port a stand-in listens on.
type Port struct {
	// Number is the port, or 0 when Var names it.
	Number int
	// Proto is "tcp" or "udp".
	Proto string
	// Var is the environment variable whose value is the port, "" for a
	// fixed one.
	Var string
}

func (p Port) String() string {
	if p.Var != "" {
		return "$" + p.Var + "/" + p.Proto
	}
	return strconv.Itoa(p.Number) + "/" + p.Proto
}

var varRE = regexp.MustCompile(`^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$`)

// ParsePorts reads a PortsEnv value: comma-separated NUMBER or $NAME,
// each with /tcp or /udp (tcp when not given), blanks ignored.
func ParsePorts(spec string) ([]Port, error) {
	var out []Port
	for field := range strings.SplitSeq(spec, ",") {
		field = strings.TrimSpace(field)
		if field == "" {
			continue
		}
		num, proto, _ := strings.Cut(field, "/")
		if proto == "" {
			proto = "tcp"
		}
		bad := fmt.Errorf("%s %q: want NUMBER or $NAME, then /tcp or /udp, e.g. 3001/tcp", PortsEnv, field)
		if proto != "tcp" && proto != "udp" {
			return nil, bad
		}
		if m := varRE.FindStringSubmatch(num); m != nil {
			out = append(out, Port{Var: m[1], Proto: proto})
			continue
		}
		n, err := strconv.Atoi(num)
		if err != nil || n < 1 || n > 65535 {
			return nil, bad
		}
		out = append(out, Port{Number: n, Proto: proto})
	}
	return out, nil
}

// ResolvePorts gives each port named by a variable its number from
// getenv.
func ResolvePorts(ports []Port, getenv func(string) string) ([]Port, error) {
	out := make([]Port, 0, len(ports))
	for _, p := range ports {
		if p.Var != "" {
			n, err := strconv.Atoi(getenv(p.Var))
			if err != nil || n < 1 || n > 65535 {
				return nil, fmt.Errorf("%s: port %s: $%s is %q, not a port", PortsEnv, p, p.Var, getenv(p.Var))
			}
			p = Port{Number: n, Proto: p.Proto}
		}
		out = append(out, p)
	}
	return out, nil
}

// FormatPorts writes ports as a PortsEnv value, sorted and without
// duplicates.
func FormatPorts(ports []Port) string {
	var fields []string
	for _, p := range SortPorts(ports) {
		fields = append(fields, p.String())
	}
	return strings.Join(fields, ",")
}

// SortPorts returns ports by number then protocol, without duplicates.
func SortPorts(ports []Port) []Port {
	out := slices.Clone(ports)
	slices.SortFunc(out, func(a, b Port) int {
		if a.Number != b.Number {
			return a.Number - b.Number
		}
		if a.Var != b.Var {
			return strings.Compare(a.Var, b.Var)
		}
		return strings.Compare(a.Proto, b.Proto)
	})
	return slices.Compact(out)
}

// Serves tells whether the process is the container's own (PID 1, or the
// child of an init such as docker-init, which is PID 1) rather than one
// docker exec started: an exec'd process's parent is outside the
// container's PID namespace, so its parent PID reads 0.
func Serves(pid, ppid int) bool { return pid == 1 || ppid == 1 }

// Target is one URL a health check asks for.
type Target struct {
	// URL is as the check wrote it.
	URL string
	// Port is the URL's port (80 or 443 by scheme when it gives none).
	Port int
	// Path is the path and query to GET; "" for a bash /dev/tcp/HOST/PORT,
	// which only connects.
	Path string
}

var (
	// urlRE finds http(s) URLs in a program's arguments: a curl or wget
	// argument, or inside a node -e, ruby -e or sh -c string.
	urlRE = regexp.MustCompile("(?i)\\bhttps?://[^\\s'\"`<>()\\\\]+")
	// loopbackRE finds the scheme-less loopback addresses curl and wget
	// take as URLs (localhost:3000/health).
	loopbackRE = regexp.MustCompile("(?:^|[\\s'\"=`(])((?:localhost|127\\.0\\.0\\.1|0\\.0\\.0\\.0|\\[::1\\]):[0-9]{1,5}(?:/[^\\s'\"`<>()\\\\]*)?)")
	// devTCPRE finds bash's /dev/tcp/HOST/PORT, how a check without curl
	// or wget connects.
	devTCPRE = regexp.MustCompile(`/dev/tcp/[A-Za-z0-9.:\[\]-]+/([0-9]{1,5})\b`)
)

// shells are the programs whose -c argument is a script to read.
var shells = []string{"sh", "bash", "ash", "dash", "zsh"}

// Targets returns the URLs in a check's argv (argv[0] is the program as
// it was started). A shell's -c script has its $VAR and ${VAR} (and
// ${VAR:-default}) expanded from getenv first, as the shell would. URLs
// whose port cannot be read (a variable left in it) are left out.
func Targets(argv []string, getenv func(string) string) []Target {
	if len(argv) == 0 {
		return nil
	}
	args := slices.Clone(argv[1:])
	if slices.Contains(shells, path.Base(argv[0])) {
		if i := slices.Index(args, "-c"); i >= 0 && i+1 < len(args) {
			args[i+1] = expand(args[i+1], getenv)
		}
	}
	var out []Target
	seen := map[string]bool{}
	add := func(raw string) {
		raw = strings.TrimRight(raw, ".,;:!?")
		t, ok := parseTarget(raw)
		if ok && !seen[t.URL] {
			seen[t.URL] = true
			out = append(out, t)
		}
	}
	for _, a := range args {
		rest := urlRE.ReplaceAllStringFunc(a, func(u string) string {
			add(u)
			return " "
		})
		for _, m := range loopbackRE.FindAllStringSubmatch(rest, -1) {
			add(m[1])
		}
		for _, m := range devTCPRE.FindAllStringSubmatch(rest, -1) {
			if n, err := strconv.Atoi(m[1]); err == nil && n > 0 && n < 65536 && !seen[m[0]] {
				seen[m[0]] = true
				out = append(out, Target{URL: m[0], Port: n})
			}
		}
	}
	return out
}

// parseTarget reads one URL, with http:// assumed when it has no scheme.
func parseTarget(raw string) (Target, bool) {
	withScheme := raw
	if !strings.Contains(raw, "://") {
		withScheme = "http://" + raw
	}
	u, err := url.Parse(withScheme)
	if err != nil || u.Hostname() == "" {
		return Target{}, false
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[strings.ToLower(u.Scheme)]
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return Target{}, false
	}
	return Target{URL: raw, Port: n, Path: u.RequestURI()}, true
}

// expand replaces $NAME, ${NAME} and ${NAME:-default} in a shell script
// with their values.
func expand(script string, getenv func(string) string) string {
	return os.Expand(script, func(name string) string {
		if v, def, ok := strings.Cut(name, ":-"); ok {
			if got := getenv(v); got != "" {
				return got
			}
			return def
		}
		if strings.ContainsAny(name, ":?+=") { // ${NAME:?...} and the like
			name = name[:strings.IndexAny(name, ":?+=")]
		}
		return getenv(name)
	})
}

// Check does what the health check or exec command argv stands for: it
// GETs each of its URLs (Targets) on 127.0.0.1 at the URL's port, plain
// HTTP even for https (a stand-in has no certificate), and passes on a
// status below 500 (a /dev/tcp target only has to accept); with no URL,
// it connects to each tcp port of ports; with none either, it passes. It
// returns the first failure, with what was asked.
func Check(ctx context.Context, argv []string, ports []Port, getenv func(string) string, log io.Writer) error {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	if targets := Targets(argv, getenv); len(targets) > 0 {
		client := &http.Client{Timeout: 5 * time.Second}
		for _, t := range targets {
			if t.Path == "" {
				addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(t.Port))
				c, err := dialer.DialContext(ctx, "tcp", addr)
				if err != nil {
					return fmt.Errorf("%s: %w", t.URL, err)
				}
				c.Close()
				fmt.Fprintf(log, "stand-in check %s: %s accepts\n", path.Base(argv[0]), addr)
				continue
			}
			addr := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(t.Port)) + t.Path
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, addr, nil)
			if err != nil {
				return fmt.Errorf("%s: %w", t.URL, err)
			}
			resp, err := client.Do(req)
			if err != nil {
				return fmt.Errorf("%s: GET %s: %w", t.URL, addr, err)
			}
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				return fmt.Errorf("%s: GET %s: status %d", t.URL, addr, resp.StatusCode)
			}
			fmt.Fprintf(log, "stand-in check %s: GET %s: %d\n", path.Base(argv[0]), addr, resp.StatusCode)
		}
		return nil
	}
	probed := false
	for _, p := range ports {
		if p.Proto != "tcp" {
			continue
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Number))
		c, err := dialer.DialContext(ctx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("%s: no URL in its arguments, and port %s: %w", path.Base(argv[0]), p, err)
		}
		c.Close()
		probed = true
		fmt.Fprintf(log, "stand-in check %s: %s accepts\n", path.Base(argv[0]), addr)
	}
	if !probed {
		fmt.Fprintf(log, "stand-in check %s: no URL in its arguments and no tcp port to try: passes\n", path.Base(argv[0]))
	}
	return nil
}

// Serve listens on every port until ctx ends: on a tcp port it answers
// every request 200 with a line naming image, on a udp one it echoes each
// datagram. A port already taken is logged and left out (containers that
// share a network namespace, compose's network_mode: service:..., may
// both stand in for it); any other failure to listen is returned at once.
func Serve(ctx context.Context, ports []Port, image string, log io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "stackhub stand-in for %s: %s %s\n", image, r.Method, r.URL.RequestURI())
	})
	var wg sync.WaitGroup
	errs := make(chan error, len(ports))
	for _, p := range ports {
		addr := ":" + strconv.Itoa(p.Number)
		switch p.Proto {
		case "tcp":
			ln, err := net.Listen("tcp", addr)
			if errors.Is(err, syscall.EADDRINUSE) {
				fmt.Fprintf(log, "stand-in: %s is taken, left to whoever holds it: %v\n", p, err)
				continue
			}
			if err != nil {
				return fmt.Errorf("listen %s: %w", p, err)
			}
			srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
			wg.Go(func() {
				if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
					errs <- fmt.Errorf("serve %s: %w", p, err)
				}
			})
			wg.Go(func() {
				<-ctx.Done()
				_ = srv.Close()
			})
		case "udp":
			pc, err := net.ListenPacket("udp", addr)
			if errors.Is(err, syscall.EADDRINUSE) {
				fmt.Fprintf(log, "stand-in: %s is taken, left to whoever holds it: %v\n", p, err)
				continue
			}
			if err != nil {
				return fmt.Errorf("listen %s: %w", p, err)
			}
			wg.Go(func() { echo(ctx, pc) })
			wg.Go(func() {
				<-ctx.Done()
				pc.Close()
			})
		}
	}
	fmt.Fprintf(log, "stand-in for %s listening on %s\n", image, FormatPorts(ports))
	var err error
	select {
	case <-ctx.Done():
	case err = <-errs:
	}
	cancel()
	wg.Wait()
	return err
}

// echo sends every datagram back to its sender until pc is closed.
func echo(ctx context.Context, pc net.PacketConn) {
	buf := make([]byte, 64<<10)
	for ctx.Err() == nil {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		_, _ = pc.WriteTo(buf[:n], from)
	}
}
