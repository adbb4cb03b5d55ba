package dockerhost

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestHealthOf reads the health check's verdict from API 1.41's status text.
func TestHealthOf(t *testing.T) {
	for status, want := range map[string]string{
		"Up 5 minutes (healthy)":          "healthy",
		"Up 2 seconds (health: starting)": "starting",
		"Up 1 hour (unhealthy)":           "unhealthy",
		"Up 3 minutes":                    "",
		"Exited (0) 2 minutes ago":        "",
	} {
		assert.Equal(t, want, healthOf(status), status)
	}
}
