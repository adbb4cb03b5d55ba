// Package registrytest starts a throwaway OCI registry for tests: Debian's
// docker-registry (distribution 2.8) on 127.0.0.1 with a free port of its
// own, storage in a temporary directory, optionally behind htpasswd basic
// auth. Each registry is stopped in t.Cleanup; the package never talks to
// a registry it did not start (not even one on localhost:5000).
//
// Only tests may import it (it takes a testing.TB). The binary must be
// installed: apt-get install -y docker-registry.
package registrytest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Binary is the registry program looked up in PATH.
const Binary = "docker-registry"

// Registry is a running registry.
type Registry struct {
	// Host is host:port, e.g. 127.0.0.1:41234: the registry part of
	// references (Host + "/stackhub/demo:v0.1.0").
	Host string
	// URL is http://Host.
	URL string
	// Dir is the storage root; tests may read or alter blobs under
	// Dir/docker/registry/v2.
	Dir string
	// User and Password are the basic-auth credentials ("" without auth).
	User, Password string

	cmd      *exec.Cmd
	done     chan struct{}
	stopOnce sync.Once
	log      *bytes.Buffer
	logMu    *sync.Mutex
}

// Option configures Start.
type Option func(*options)

type options struct{ user, password string }

// WithBasicAuth protects the registry with htpasswd basic auth for one
// user (bcrypt hash, as docker-registry requires).
func WithBasicAuth(user, password string) Option {
	return func(o *options) { o.user, o.password = user, password }
}

// Start starts a registry and returns once GET /v2/ answers (200, or 401
// with auth). It fails tb if the binary is missing or the registry does
// not come up in 20 s; the registry is stopped when tb's test ends.
func Start(tb testing.TB, opts ...Option) *Registry {
	tb.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	bin, err := exec.LookPath(Binary)
	if err != nil {
		tb.Fatalf("registrytest: %s is not installed (apt-get install -y docker-registry): %v", Binary, err)
	}
	var lastErr error
	for range 3 { // the free port may be taken between probe and bind
		r, err := start(tb, bin, o)
		if err == nil {
			return r
		}
		lastErr = err
	}
	tb.Fatalf("registrytest: %v", lastErr)
	return nil
}

func start(tb testing.TB, bin string, o options) (*Registry, error) {
	dir := tb.TempDir()
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	host := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	r := &Registry{Host: host, URL: "http://" + host, Dir: filepath.Join(dir, "storage"),
		User: o.user, Password: o.password, log: &bytes.Buffer{}, logMu: &sync.Mutex{}, done: make(chan struct{})}
	cfg := map[string]any{
		"version": 0.1,
		"log":     map[string]any{"level": "error", "accesslog": map[string]any{"disabled": true}},
		"storage": map[string]any{
			"filesystem": map[string]any{"rootdirectory": r.Dir},
			"delete":     map[string]any{"enabled": true},
		},
		"http": map[string]any{"addr": host, "secret": randomHex()},
	}
	if o.user != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(o.password), bcrypt.MinCost)
		if err != nil {
			return nil, fmt.Errorf("htpasswd: %w", err)
		}
		htpasswd := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(o.user+":"+string(hash)+"\n"), 0o600); err != nil {
			return nil, err
		}
		cfg["auth"] = map[string]any{"htpasswd": map[string]any{"realm": "stackhub-test", "path": htpasswd}}
	}
	// JSON is YAML: the registry reads this file as its configuration.
	data, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	cfgFile := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgFile, data, 0o600); err != nil {
		return nil, err
	}
	r.cmd = exec.Command(bin, "serve", cfgFile)
	r.cmd.Stdout, r.cmd.Stderr = lockedWriter{r.logMu, r.log}, lockedWriter{r.logMu, r.log}
	r.cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none")
	if err := r.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { _ = r.cmd.Wait(); close(r.done) }()
	tb.Cleanup(func() {
		r.Stop()
		if tb.Failed() {
			tb.Logf("registrytest: %s log:\n%s", r.Host, r.Log())
		}
	})
	if err := r.waitReady(20 * time.Second); err != nil {
		r.Stop()
		return nil, fmt.Errorf("registry on %s: %w\n%s", host, err, r.Log())
	}
	return r, nil
}

// waitReady polls /v2/ until it answers 200 or 401.
func (r *Registry) waitReady(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.URL+"/v2/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return nil
			}
		}
		select {
		case <-r.done:
			return errors.New("the registry exited")
		case <-ctx.Done():
			return fmt.Errorf("/v2/ does not answer: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop stops the registry (SIGTERM, then SIGKILL after 5 s) and waits for
// it to exit. Tests call it to see a registry go down; Cleanup calls it
// again harmlessly.
func (r *Registry) Stop() {
	r.stopOnce.Do(func() {
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.done:
		case <-time.After(5 * time.Second):
			_ = r.cmd.Process.Kill()
			<-r.done
		}
	})
}

// Log returns what the registry printed so far.
func (r *Registry) Log() string {
	r.logMu.Lock()
	defer r.logMu.Unlock()
	return r.log.String()
}

// Ref returns Host/repo (repo may carry :tag or @digest).
func (r *Registry) Ref(repo string) string { return r.Host + "/" + repo }

// DockerConfig writes a Docker client configuration directory holding
// auths for this registry (its User and Password, or user and password
// when given) and returns it, for DOCKER_CONFIG or Registry.ConfigDir.
func (r *Registry) DockerConfig(tb testing.TB, userPassword ...string) string {
	tb.Helper()
	user, password := r.User, r.Password
	if len(userPassword) == 2 {
		user, password = userPassword[0], userPassword[1]
	}
	dir := tb.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	data, err := json.Marshal(map[string]any{"auths": map[string]any{r.Host: map[string]string{"auth": auth}}})
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o600); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// Get fetches path (e.g. /v2/repo/manifests/tag) with accept as the Accept
// header and the registry's credentials, returning status, Content-Type
// and body.
func (r *Registry) Get(tb testing.TB, path string, accept ...string) (int, string, []byte) {
	tb.Helper()
	req, err := http.NewRequestWithContext(tb.Context(), http.MethodGet, r.URL+path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for _, a := range accept {
		req.Header.Add("Accept", a)
	}
	if r.User != "" {
		req.SetBasicAuth(r.User, r.Password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	if _, err := body.ReadFrom(resp.Body); err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), body.Bytes()
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func randomHex() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
