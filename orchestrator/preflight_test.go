package orchestrator_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
)

func TestParseQuantity(t *testing.T) {
	for in, want := range map[string]uint64{"": 0, "512Mi": 512 << 20, "2Gi": 2 << 30, "1.5G": 1500000000, "100": 100, "10 GB": 10e9} {
		got, err := orchestrator.ParseQuantity(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"lots", "-1Gi", "1Xi"} {
		_, err := orchestrator.ParseQuantity(bad)
		assert.Error(t, err, bad)
	}
	cpu, err := orchestrator.ParseCPU("500m")
	require.NoError(t, err)
	assert.Equal(t, 0.5, cpu)
}

func TestPreflight(t *testing.T) {
	host := orchestrator.HostSample{CPUs: 2, MemTotal: 8 << 30, MemUsed: 6 << 30, DiskTotal: 100 << 30, DiskUsed: 95 << 30}
	app := orchestrator.App{Name: "big", Requirements: orchestrator.Requirements{CPU: "4", Memory: "4Gi", Disk: "10Gi"}}
	err := orchestrator.Preflight(app, host, true)
	assert.Equal(t, orchestrator.EPRECONDITION, orchestrator.ErrorCode(err))
	assert.Equal(t, "big needs more than this host has free: cpu: needs 4 cores, the host has 2; memory: needs 4.0 GiB, 2.0 GiB free of 8.0 GiB; "+
		"disk: needs 10.0 GiB, 5.0 GiB free of 100.0 GiB (install with force to go ahead)", orchestrator.ErrorMessage(err))

	small := orchestrator.App{Name: "small", Requirements: orchestrator.Requirements{CPU: "1", Memory: "1Gi", Disk: "1Gi"}}
	assert.NoError(t, orchestrator.Preflight(small, host, true))
	assert.NoError(t, orchestrator.Preflight(app, host, false), "no sample yet: nothing to compare with")
	bad := orchestrator.App{Name: "bad", Requirements: orchestrator.Requirements{Memory: "lots"}}
	assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(orchestrator.Preflight(bad, host, true)))
}
