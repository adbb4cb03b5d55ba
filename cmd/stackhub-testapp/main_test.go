package main

import (
	"fmt"
	"net"
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
	assert.Equal(t, 1, standIn("80/sctp", []string{"sh"}, 1, 0, env, &stderr))
	assert.Contains(t, stderr.String(), "STACKHUB_STANDIN_PORTS")
}
