//go:build integration

package dockertest

import (
	"testing"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/require"
)

// TestDockerd checks the private engine StartDockerd gives: the image is
// there, and it answers again after Stop and Start.
func TestDockerd(t *testing.T) {
	RequireDocker(t)
	d := StartDockerd(t, testImage)
	cli, err := d.Client()
	require.NoError(t, err)
	defer cli.Close()
	_, err = cli.ImageInspect(t.Context(), testImage)
	require.NoError(t, err)
	require.NoError(t, d.Stop())
	require.NoError(t, d.Start())
	_, err = cli.Ping(t.Context(), client.PingOptions{NegotiateAPIVersion: true})
	require.NoError(t, err)
}
