package standin

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParsePorts(t *testing.T) {
	for _, tc := range []struct {
		name, spec string
		want       []Port
		err        bool
	}{
		{name: "empty", spec: ""},
		{name: "tcp and udp", spec: "3001/tcp,51820/udp", want: []Port{tcp(3001), udp(51820)}},
		{name: "tcp by default, blanks", spec: " 80 , ,5432/tcp", want: []Port{tcp(80), tcp(5432)}},
		{name: "a variable", spec: "$WEB_PORT/tcp,${GAME_PORT}/udp", want: []Port{{Var: "WEB_PORT", Proto: "tcp"}, {Var: "GAME_PORT", Proto: "udp"}}},
		{name: "not a variable", spec: "$WEB-PORT/tcp", err: true},
		{name: "sctp", spec: "80/sctp", err: true},
		{name: "not a number", spec: "http/tcp", err: true},
		{name: "out of range", spec: "70000", err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePorts(tc.spec)
			if tc.err {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func tcp(n int) Port { return Port{Number: n, Proto: "tcp"} }
func udp(n int) Port { return Port{Number: n, Proto: "udp"} }

func TestFormatPorts(t *testing.T) {
	got := FormatPorts([]Port{udp(51820), tcp(80), {Var: "WEB_PORT", Proto: "tcp"}, tcp(51820), tcp(80)})
	assert.Equal(t, "$WEB_PORT/tcp,80/tcp,51820/tcp,51820/udp", got, "sorted, without duplicates")
	back, err := ParsePorts(got)
	require.NoError(t, err)
	assert.Equal(t, got, FormatPorts(back))
}

func TestResolvePorts(t *testing.T) {
	env := map[string]string{"WEB_PORT": "10600", "EMPTY": ""}
	getenv := func(k string) string { return env[k] }
	got, err := ResolvePorts([]Port{tcp(80), {Var: "WEB_PORT", Proto: "tcp"}}, getenv)
	require.NoError(t, err)
	assert.Equal(t, []Port{tcp(80), tcp(10600)}, got)
	_, err = ResolvePorts([]Port{{Var: "EMPTY", Proto: "tcp"}}, getenv)
	assert.ErrorContains(t, err, `port $EMPTY/tcp: $EMPTY is "", not a port`)
}

func TestServes(t *testing.T) {
	assert.True(t, Serves(1, 0), "PID 1: the container's process")
	assert.True(t, Serves(7, 1), "the child of docker-init (init: true)")
	assert.False(t, Serves(42, 0), "docker exec: a health check or an exec command")
}

func TestTargets(t *testing.T) {
	env := map[string]string{"PORT": "8080", "HOST": "0.0.0.0"}
	getenv := func(k string) string { return env[k] }
	for _, tc := range []struct {
		name string
		argv []string
		want []Target
	}{
		{
			name: "curl",
			argv: []string{"curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1/status.php"},
			want: []Target{{URL: "http://127.0.0.1/status.php", Port: 80, Path: "/status.php"}},
		},
		{
			name: "node -e",
			argv: []string{"node", "-e", "require('http').get('http://127.0.0.1:3001/', r => process.exit(r.statusCode < 400 ? 0 : 1))"},
			want: []Target{{URL: "http://127.0.0.1:3001/", Port: 3001, Path: "/"}},
		},
		{
			name: "ruby",
			argv: []string{"ruby", "-rnet/http", "-e", "exit(Net::HTTP.get_response(URI('http://127.0.0.1:3000/login')).is_a?(Net::HTTPSuccess) ? 0 : 1)"},
			want: []Target{{URL: "http://127.0.0.1:3000/login", Port: 3000, Path: "/login"}},
		},
		{
			name: "CMD-SHELL with a fallback and a query",
			argv: []string{"/bin/sh", "-c", "wget -qO- http://localhost:8123/ping?x=1 || exit 1"},
			want: []Target{{URL: "http://localhost:8123/ping?x=1", Port: 8123, Path: "/ping?x=1"}},
		},
		{
			name: "a shell expands variables",
			argv: []string{"sh", "-c", "curl -f http://localhost:${PORT}/health && curl -f http://$HOST:${ADMIN_PORT:-9090}/"},
			want: []Target{
				{URL: "http://localhost:8080/health", Port: 8080, Path: "/health"},
				{URL: "http://0.0.0.0:9090/", Port: 9090, Path: "/"},
			},
		},
		{
			name: "https without a port",
			argv: []string{"wget", "--no-check-certificate", "-q", "--spider", "https://localhost/api/health."},
			want: []Target{{URL: "https://localhost/api/health", Port: 443, Path: "/api/health"}},
		},
		{
			name: "curl without a scheme",
			argv: []string{"curl", "-f", "localhost:5678/healthz"},
			want: []Target{{URL: "localhost:5678/healthz", Port: 5678, Path: "/healthz"}},
		},
		{
			name: "no shell, no expansion: the variable stays and the URL is left out",
			argv: []string{"curl", "http://localhost:${PORT}/"},
		},
		{
			name: "bash /dev/tcp",
			argv: []string{"bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9000 && printf 'GET /health/ready HTTP/1.0\\r\\n\\r\\n' >&3"},
			want: []Target{{URL: "/dev/tcp/127.0.0.1/9000", Port: 9000}},
		},
		{name: "pg_isready", argv: []string{"pg_isready", "-h", "127.0.0.1", "-U", "gitea", "-d", "gitea"}},
		{name: "mysqladmin in a shell", argv: []string{"/bin/sh", "-c", `mysqladmin ping -h 127.0.0.1 -uroot -p"$MYSQL_ROOT_PASSWORD" --silent`}},
		{name: "no argument", argv: []string{"healthcheck.sh"}},
		{name: "nothing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Targets(tc.argv, getenv))
		})
	}
}

// freePort returns a port nothing listens on (tcp and udp) just now.
func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		p := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if pc, err := net.ListenPacket("udp", ":"+strconv.Itoa(p)); err == nil {
			pc.Close()
			return p
		}
	}
	t.Fatal("no free port")
	return 0
}

// syncBuffer is a log safe for the goroutines of Serve.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serve runs Serve until the test ends and waits until its tcp ports
// accept.
func serve(t *testing.T, ports []Port, log io.Writer) {
	t.Helper()
	ctx := t.Context()
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ports, "docker.io/library/nginx:1.27", log) }()
	t.Cleanup(func() {
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(5 * time.Second):
			t.Error("Serve did not end with its context")
		}
	})
	for _, p := range ports {
		if p.Proto != "tcp" {
			continue
		}
		require.Eventually(t, func() bool {
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p.Number))
			if err == nil {
				c.Close()
			}
			return err == nil
		}, 5*time.Second, 20*time.Millisecond, "port %s", p)
	}
}

func TestServe(t *testing.T) {
	web, game := freePort(t), freePort(t)
	taken, err := net.Listen("tcp", ":0")
	require.NoError(t, err)
	defer taken.Close()
	busy := taken.Addr().(*net.TCPAddr).Port
	log := &syncBuffer{}
	serve(t, []Port{tcp(web), udp(game), tcp(busy)}, log)

	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/any/path?q=1", web))
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "every path answers")
	assert.Equal(t, "stackhub stand-in for docker.io/library/nginx:1.27: GET /any/path?q=1\n", string(body))

	c, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", game))
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	_, err = c.Write([]byte("ping"))
	require.NoError(t, err)
	buf := make([]byte, 16)
	n, err := c.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "ping", string(buf[:n]), "udp echoes")

	require.Eventually(t, func() bool { return strings.Contains(log.String(), "listening on") }, 5*time.Second, 10*time.Millisecond)
	assert.Contains(t, log.String(), fmt.Sprintf("%d/tcp is taken", busy), "a taken port is logged, not fatal")
}

func TestCheck(t *testing.T) {
	web, db := freePort(t), freePort(t)
	serve(t, []Port{tcp(web), tcp(db)}, io.Discard)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "starting", http.StatusServiceUnavailable)
	}))
	defer failing.Close()
	_, failingPort, _ := net.SplitHostPort(strings.TrimPrefix(failing.URL, "http://"))
	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	nothing := freePort(t)
	none := func(string) string { return "" }

	for _, tc := range []struct {
		name  string
		argv  []string
		ports []Port
		err   string
	}{
		{name: "GET on 127.0.0.1 whatever the host", argv: []string{"curl", "-f", fmt.Sprintf("http://localhost:%d/status.php", web)}},
		{name: "https is asked in plain HTTP", argv: []string{"wget", "-q", fmt.Sprintf("https://app.example:%d/", web)}},
		{name: "below 500 passes", argv: []string{"curl", notFound.URL + "/missing"}},
		{name: "500 and above fails", argv: []string{"curl", failing.URL}, err: "status 503"},
		{name: "a port nothing listens on", argv: []string{"/bin/sh", "-c", fmt.Sprintf("curl -f http://127.0.0.1:%d/ || exit 1", nothing)}, err: "connection refused"},
		{name: "every URL must answer", argv: []string{"sh", "-c", fmt.Sprintf("curl http://127.0.0.1:%d/ && curl http://127.0.0.1:%s/", web, failingPort)}, err: "status 503"},
		{name: "no URL: the image's tcp ports", argv: []string{"pg_isready", "-h", "127.0.0.1"}, ports: []Port{tcp(web), tcp(db), udp(nothing)}},
		{name: "no URL: a tcp port that does not accept", argv: []string{"healthcheck.sh", "--connect"}, ports: []Port{tcp(nothing)}, err: "healthcheck.sh: no URL in its arguments"},
		{name: "bash /dev/tcp connects", argv: []string{"bash", "-c", fmt.Sprintf("exec 3<>/dev/tcp/127.0.0.1/%d && printf 'GET /health/ready HTTP/1.0\\r\\n\\r\\n' >&3", db)}},
		{name: "bash /dev/tcp to nothing", argv: []string{"bash", "-c", fmt.Sprintf("echo > /dev/tcp/localhost/%d", nothing)}, err: "/dev/tcp/localhost/"},
		{name: "no URL, no port", argv: []string{"rails", "runner", "Setting.app_title = 'x'"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(t.Context(), tc.argv, tc.ports, none, io.Discard)
			if tc.err == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, tc.err)
			}
		})
	}
}
