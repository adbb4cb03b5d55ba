package orchestrator_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/websoft9/stackhub/orchestrator"
)

func TestRisks(t *testing.T) {
	codes := func(rs []orchestrator.Risk) []string {
		out := []string{}
		for _, r := range rs {
			out = append(out, r.Code)
		}
		return out
	}
	calm := orchestrator.ServerStatus{Sampled: true, Sample: orchestrator.HostSample{DiskPercent: 90, MemPercent: 50}}
	assert.Equal(t, []string{}, codes(orchestrator.Risks(calm, nil, orchestrator.Exposure{Public: true, TLS: true})))

	busy := orchestrator.ServerStatus{Sampled: true, DockerError: "down", Sample: orchestrator.HostSample{DiskPercent: 90.1, MemPercent: 91}, SetupPending: true}
	got := orchestrator.Risks(busy, []string{"b", "a"}, orchestrator.Exposure{Public: true})
	assert.Equal(t, []string{"disk_full", "memory_low", "docker_down", "apps_failed", "setup_pending", "plain_http"}, codes(got))
	assert.Equal(t, "2 app(s) failed: [a b]", got[3].Message)

	unsampled := orchestrator.ServerStatus{Sample: orchestrator.HostSample{DiskPercent: 99}}
	assert.Empty(t, orchestrator.Risks(unsampled, nil, orchestrator.Exposure{}), "no reading, no disk risk")
}
