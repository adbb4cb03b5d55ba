package dockerhost

import (
	"context"
	"errors"
	"fmt"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
)

// failingAPI fails every call with err.
type failingAPI struct {
	API
	err error
}

func (f failingAPI) Ping(context.Context, client.PingOptions) (client.PingResult, error) {
	return client.PingResult{}, f.err
}
func (f failingAPI) ContainerList(context.Context, client.ContainerListOptions) (client.ContainerListResult, error) {
	return client.ContainerListResult{}, f.err
}
func (f failingAPI) ContainerLogs(context.Context, string, client.ContainerLogsOptions) (client.ContainerLogsResult, error) {
	return nil, f.err
}

// TestClassifyTellsOnError: each failed call is told once, by operation
// (never the object's name) and class; the domain error is unchanged; a
// cancelled call is not Docker's failure.
func TestClassifyTellsOnError(t *testing.T) {
	tests := []struct {
		name  string
		err   error
		call  func(h *Host) error
		op    string
		class string
		code  string
	}{
		{"down", fmt.Errorf("dial: %w", cerrdefs.ErrUnavailable), func(h *Host) error { _, err := h.BusyPorts(t.Context()); return err },
			"list containers", ErrorUnavailable, orchestrator.EUNAVAILABLE},
		{"not found", cerrdefs.ErrNotFound, func(h *Host) error { return h.Logs(t.Context(), "websoft9-gone", orchestrator.LogOptions{}, nil) },
			"container logs", ErrorNotFound, orchestrator.ENOTFOUND},
		{"other", errors.New("boom"), func(h *Host) error { _, err := h.AppObjects(t.Context(), "demo"); return err },
			"list containers", ErrorOther, orchestrator.EINTERNAL},
		{"ping", errors.New("refused"), func(h *Host) error { return h.Ping(t.Context()) },
			"ping", ErrorUnavailable, orchestrator.EUNAVAILABLE},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var told []string
			h := New(failingAPI{err: tc.err})
			h.OnError = func(op, class string) { told = append(told, op+"/"+class) }
			err := tc.call(h)
			require.Error(t, err)
			assert.Equal(t, tc.code, orchestrator.ErrorCode(err))
			assert.Equal(t, []string{tc.op + "/" + tc.class}, told)
		})
	}
	err := classifyErr(func(op, class string) { t.Errorf("a cancelled call was told: %s %s", op, class) }, "list containers", "", context.Canceled)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, classifyErr(nil, "container logs", "logs of websoft9-x", cerrdefs.ErrNotFound).Error(), "logs of websoft9-x: not found",
		"the message still names the object")
}
