package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/websoft9/stackhub/web/client"
	"github.com/websoft9/stackhub/web/wire"
)

// server is a `stackhub serve` child process and a client for its API.
type server struct {
	cmd     *exec.Cmd
	url     string
	token   string
	dataDir string
	logFile string
	http    *http.Client
	// api is the typed client the bench drives the server with.
	api *client.Client
	// args are added to serve's command line, env to its environment.
	args, env []string
	// started is when the process was executed; healthy when /healthz
	// first answered 200.
	started, healthy time.Time

	// done is closed when the process has exited.
	done chan struct{}
}

// startServer creates a token in a fresh data dir (or reuses the data dir
// and token of prev), then executes serve on 127.0.0.1:0 with the bench
// catalog and waits for /healthz to answer 200.
func (b *bench) startServer(ctx context.Context, name string, prev *server) (*server, error) {
	s := b.newServer(name)
	if prev != nil {
		s.dataDir, s.token = prev.dataDir, prev.token
	} else {
		var err error
		if s, err = b.prepareServer(ctx, name); err != nil {
			return nil, err
		}
	}
	if err := b.launch(ctx, s); err != nil {
		return nil, err
	}
	return s, nil
}

func (b *bench) newServer(name string) *server {
	return &server{logFile: filepath.Join(b.tmp, name+".log"), done: make(chan struct{})}
}

// prepareServer makes a fresh data dir with an admin token, for launch.
func (b *bench) prepareServer(ctx context.Context, name string) (*server, error) {
	s := b.newServer(name)
	s.dataDir = filepath.Join(b.tmp, name)
	if err := os.MkdirAll(s.dataDir, 0o700); err != nil {
		return nil, err
	}
	out, err := exec.CommandContext(ctx, b.bin, "token", "create", "--data-dir", s.dataDir).Output()
	if err != nil {
		return nil, fmt.Errorf("token create: %w", exitDetail(err))
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if s.token = lines[len(lines)-1]; !strings.HasPrefix(s.token, "shk_") {
		return nil, fmt.Errorf("token create printed %q, want the token last", out)
	}
	return s, nil
}

// launch executes serve for s (its data dir and token made), with s.args
// added and s.env in the environment, and waits for /healthz to answer 200.
func (b *bench) launch(ctx context.Context, s *server) error {
	logf, err := os.Create(s.logFile)
	if err != nil {
		return err
	}
	defer logf.Close() // the child holds its own descriptor
	// Not CommandContext: the server is stopped with SIGTERM by stop, even
	// when ctx is cancelled, so that it shuts down in order.
	s.cmd = exec.Command(b.bin, "serve", "--listen", "127.0.0.1:0", "--data-dir", s.dataDir,
		"--bundles", b.catalog, "--runtimes-dir", b.runtimes)
	s.cmd.Args = append(s.cmd.Args, s.args...)
	if len(s.env) > 0 {
		s.cmd.Env = append(os.Environ(), s.env...)
	}
	s.cmd.Stderr = logf
	// A pipe of our own rather than StdoutPipe, which Wait would close
	// under the reader.
	stdout, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	s.cmd.Stdout = pw
	s.started = time.Now()
	err = s.cmd.Start()
	pw.Close()
	if err != nil {
		stdout.Close()
		return fmt.Errorf("start serve: %w", err)
	}
	go func() { // tied to the process: stop waits for it
		_ = s.cmd.Wait()
		close(s.done)
	}()
	addr, err := readListening(stdout)
	if err != nil {
		_ = s.stop()
		return fmt.Errorf("serve: %w (log: %s)", err, tail(s.logFile))
	}
	s.url = addr
	s.http = &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	s.api = client.NewClient(s.url, s.token)
	s.api.HTTP = s.http
	deadline := time.Now().Add(60 * time.Second)
	probe := &http.Client{Timeout: time.Second}
	for {
		resp, err := probe.Get(s.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				s.healthy = time.Now()
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("serve exited before /healthz answered (log: %s)", tail(s.logFile))
		case <-ctx.Done():
			_ = s.stop()
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = s.stop()
			return errors.New("/healthz did not answer 200 within 60 s")
		}
	}
}

// readListening reads the "StackHub listening on URL" line and leaves the
// rest of stdout drained.
func readListening(stdout *os.File) (string, error) {
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() {
		stdout.Close()
		return "", errors.New("serve printed nothing")
	}
	addr, ok := strings.CutPrefix(sc.Text(), "StackHub listening on ")
	if !ok {
		stdout.Close()
		return "", fmt.Errorf("serve printed %q first", sc.Text())
	}
	go func() { // ends when the process exits and stdout reaches EOF
		_, _ = io.Copy(io.Discard, stdout)
		_ = stdout.Close()
	}()
	return addr, nil
}

// stop sends SIGTERM and waits up to 60 s, then kills.
func (s *server) stop() error {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	select {
	case <-s.done:
		return nil
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		return nil
	case <-time.After(60 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		return errors.New("serve did not stop within 60 s of SIGTERM; killed")
	}
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// do calls the API with the token; body is JSON or nil. It returns the
// status and the body.
func (s *server) do(ctx context.Context, method, path string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.url+path, r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

// install asks for app (demo, or manyApp) under name and returns its web
// port and job id.
func (s *server) install(ctx context.Context, app, name string) (wire.App, string, error) {
	in, err := s.api.InstallApp(ctx, app, name)
	if err != nil {
		return wire.App{}, "", fmt.Errorf("install %s: %w", name, err)
	}
	if in.App.Ports["port"] == 0 || in.JobID == "" {
		return wire.App{}, "", fmt.Errorf("install %s: no port or job in the answer", name)
	}
	return in.App, in.JobID, nil
}

// waitJob polls job id every interval until it ends; it returns an error
// unless it succeeded.
func (s *server) waitJob(ctx context.Context, id string, interval time.Duration) (wire.Job, error) {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		j, err := s.api.GetJob(ctx, id)
		if err != nil {
			return wire.Job{}, err
		}
		switch j.Status {
		case client.JobSucceeded:
			return j, nil
		case client.JobFailed, client.JobCanceled:
			return j, fmt.Errorf("%s of %s %s: %s", j.Action, j.App, j.Status, j.Message)
		}
		if time.Now().After(deadline) {
			return j, fmt.Errorf("job %s still %s after 5 min", id, j.Status)
		}
		if err := sleep(ctx, interval); err != nil {
			return j, err
		}
	}
}

// uninstall removes app name with its volumes and waits for the job (an
// uninstall is a job, polled every 20 ms as installs are).
func (s *server) uninstall(ctx context.Context, name string) error {
	in, err := s.api.UninstallApp(ctx, name, true)
	if err != nil {
		return fmt.Errorf("uninstall %s: %w", name, err)
	}
	_, err = s.waitJob(ctx, in.JobID, 20*time.Millisecond)
	return err
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// waitHTTP polls GET url every 20 ms until it answers 200 and returns when.
func waitHTTP(ctx context.Context, url string, limit time.Duration) (time.Time, error) {
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(limit)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return time.Time{}, err
		}
		resp, err := c.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Now(), nil
			}
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("%s did not answer 200 within %s (last error: %v)", url, limit, err)
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return time.Time{}, err
		}
	}
}

// tail returns the last lines of a log file, for error messages.
func tail(path string) string {
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return strings.Join(lines, "\n")
}

// exitDetail adds a failed command's stderr to its error.
func exitDetail(err error) error {
	if ee, ok := errors.AsType[*exec.ExitError](err); ok && len(ee.Stderr) > 0 {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
	}
	return err
}
