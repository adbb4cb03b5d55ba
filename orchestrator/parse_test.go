package orchestrator_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
)

func TestParseAction(t *testing.T) {
	tests := []struct {
		in     string
		want   orchestrator.Action
		custom bool
		err    bool
	}{
		{in: "install", want: orchestrator.ActionInstall},
		{in: "upgrade", want: orchestrator.ActionUpgrade},
		{in: "uninstall", want: orchestrator.ActionUninstall},
		{in: "stop", want: "stop", custom: true},
		{in: "backup-db", want: "backup-db", custom: true},
		{in: "", err: true},
		{in: "Install", err: true},
		{in: "-stop", err: true},
		{in: "stop now", err: true},
		{in: "../etc", err: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := orchestrator.ParseAction(tc.in)
			if tc.err {
				require.Error(t, err)
				assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(err), "got %v", err)
				assert.Empty(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got, "got %q, want %q", got, tc.want)
			assert.Equal(t, tc.custom, got.Custom(), "Custom() of %q", got)
		})
	}
}

func TestParseRunStatus(t *testing.T) {
	for _, want := range []orchestrator.RunStatus{orchestrator.RunRunning, orchestrator.RunSucceeded, orchestrator.RunFailed, orchestrator.RunCanceled} {
		got, err := orchestrator.ParseRunStatus(string(want))
		require.NoError(t, err)
		assert.Equal(t, want, got, "got %q, want %q", got, want)
	}
	for _, bad := range []string{"", "unknown", "pending", "Succeeded", "done", " failed"} {
		got, err := orchestrator.ParseRunStatus(bad)
		assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(err), "%q: got %v", bad, err)
		assert.Empty(t, got)
	}
}

func TestParseTokenScope(t *testing.T) {
	for _, want := range orchestrator.Roles {
		got, err := orchestrator.ParseTokenScope(string(want))
		require.NoError(t, err)
		assert.Equal(t, want, got, "got %q, want %q", got, want)
	}
	got, err := orchestrator.ParseTokenScope("read")
	require.NoError(t, err)
	assert.Equal(t, orchestrator.RoleViewer, got, "read, the scope before roles, is a viewer")
	for _, bad := range []string{"", "root", "Admin", "read,admin", "write"} {
		got, err := orchestrator.ParseTokenScope(bad)
		require.Error(t, err, bad)
		assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(err), "%q: got %v", bad, err)
		assert.Contains(t, orchestrator.ErrorMessage(err), "must be viewer, operator or admin")
		assert.Empty(t, got)
	}
}

// TestRoleAllows: each role allows its own work and the lesser roles'.
func TestRoleAllows(t *testing.T) {
	for i, have := range orchestrator.Roles {
		for j, need := range orchestrator.Roles {
			assert.Equal(t, i >= j, have.Allows(need), "%s allows %s", have, need)
		}
		assert.False(t, orchestrator.Role("root").Allows(have), "an unknown role allows nothing")
	}
}
