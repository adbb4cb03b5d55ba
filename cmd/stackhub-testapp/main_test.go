package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStandIn: in a stand-in image, a process docker exec started checks
// the app whatever program it was started as; a bad port list is an
// error either way.
func TestStandIn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	open := ln.Addr().(*net.TCPAddr).Port
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := ln2.Addr().(*net.TCPAddr).Port
	ln2.Close()
	env := func(string) string { return "" }

	var stderr strings.Builder
	assert.Equal(t, 0, standIn(fmt.Sprintf("%d/tcp", open), []string{"/usr/local/bin/pg_isready", "-h", "127.0.0.1"}, 42, 0, env, &stderr),
		"a check of an accepting port: %s", stderr.String())
	stderr.Reset()
	assert.Equal(t, 1, standIn(fmt.Sprintf("%d/tcp", closed), []string{"healthcheck.sh", "--connect"}, 42, 0, env, &stderr))
	assert.Contains(t, stderr.String(), "healthcheck.sh: no URL in its arguments")
	stderr.Reset()
	web := httptest.NewServer(http.NotFoundHandler())
	defer web.Close()
	webPort := func(k string) string {
		return map[string]string{"WEB_PORT": fmt.Sprint(web.Listener.Addr().(*net.TCPAddr).Port)}[k]
	}
	assert.Equal(t, 0, standIn("$WEB_PORT/tcp", []string{"/bin/sh", "-c", "curl -f http://127.0.0.1:${WEB_PORT}/ || exit 1"}, 42, 0, webPort, &stderr),
		"a port from the environment (a host-network app): %s", stderr.String())
	stderr.Reset()
	assert.Equal(t, 1, standIn("$WEB_PORT/tcp", []string{"pg_isready"}, 42, 0, env, &stderr), "the variable is not set")
	assert.Contains(t, stderr.String(), "$WEB_PORT is \"\", not a port")
	stderr.Reset()
	assert.Equal(t, 1, standIn("80/sctp", []string{"sh"}, 1, 0, env, &stderr))
	assert.Contains(t, stderr.String(), "STACKHUB_STANDIN_PORTS")
}
