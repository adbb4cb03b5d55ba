package wire

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A container that was not sampled has no figures in its JSON (no zero
// reads as a measure), its reason and node instead; a sampled one keeps
// every figure, zeros included; both decode back as they were.
func TestContainerStatsJSON(t *testing.T) {
	far := ContainerStats{Name: "websoft9-far", Unavailable: "far runs on Swarm node two", Node: &StatsNode{ID: "n2", Hostname: "two", CPUs: 2, MemoryBytes: 4 << 30}}
	b, err := json.Marshal(far)
	require.NoError(t, err)
	assert.JSONEq(t, `{"name":"websoft9-far","unavailable":"far runs on Swarm node two","node":{"id":"n2","hostname":"two","cpus":2,"memoryBytes":4294967296}}`, string(b))
	var back ContainerStats
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, far, back)

	near := ContainerStats{Name: "websoft9-near", CPUPercent: 1.5, MemoryBytes: 10}
	b, err = json.Marshal(near)
	require.NoError(t, err)
	assert.JSONEq(t, `{"name":"websoft9-near","cpuPercent":1.5,"memoryBytes":10,"memoryLimit":0,"netRxBytes":0,"netTxBytes":0,"blockReadBytes":0,"blockWriteBytes":0,"pids":0}`, string(b))
}
