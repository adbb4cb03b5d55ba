package web

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestRequestLogLevels: changes and failures are logged at info, successful
// reads only at debug.
func TestRequestLogLevels(t *testing.T) {
	for _, tc := range []struct {
		method, path, token string
		info                bool
	}{
		{http.MethodGet, "/api/v1/apps/demo/runs", "shk_read", false},
		{http.MethodGet, "/healthz", "", false},
		{http.MethodGet, "/api/v1/apps/demo/runs", "shk_bad", true},
		{http.MethodPost, "/api/v1/apps/demo/actions/stop", "shk_good", true},
	} {
		for _, level := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
			var buf bytes.Buffer
			s := &Server{Auth: fakeAuth{}, Engine: fakeEngine{}, Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: level}))}
			req := httptest.NewRequest(tc.method, tc.path, nil)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			s.Handler().ServeHTTP(httptest.NewRecorder(), req)
			logged := strings.Contains(buf.String(), "msg=request")
			assert.Equal(t, tc.info || level == slog.LevelDebug, logged, "%s %s (%s) at %s: %s", tc.method, tc.path, tc.token, level, buf.String())
		}
	}
}
