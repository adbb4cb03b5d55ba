package ocibundle

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/containerd/containerd/v2/core/remotes/docker"
	remoteerrors "github.com/containerd/containerd/v2/core/remotes/errors"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		code string
	}{
		{"containerd not found", fmt.Errorf("x: %w", cerrdefs.ErrNotFound), orchestrator.ENOTFOUND},
		{"no credentials", fmt.Errorf("%w: no basic auth credentials", docker.ErrInvalidAuthorization), orchestrator.EUNAUTHORIZED},
		{"401", remoteerrors.ErrUnexpectedStatus{StatusCode: 401, Status: "401 Unauthorized"}, orchestrator.EUNAUTHORIZED},
		{"ggcr 403", &transport.Error{StatusCode: 403}, orchestrator.EUNAUTHORIZED},
		{"ggcr 404", &transport.Error{StatusCode: 404}, orchestrator.ENOTFOUND},
		{"503", remoteerrors.ErrUnexpectedStatus{StatusCode: 503, Status: "503"}, orchestrator.EUNAVAILABLE},
		{"refused", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, orchestrator.EUNAVAILABLE},
		{"dns", &net.DNSError{Name: "registry.invalid"}, orchestrator.EUNAVAILABLE},
		{"other", errors.New("boom"), orchestrator.EINTERNAL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := classify(tc.err, "pull r/x:v1", "", "")
			assert.Equal(t, tc.code, orchestrator.ErrorCode(err), "%v", err)
			assert.Equal(t, tc.err, errors.Unwrap(err), "the cause is kept")
			assert.Contains(t, err.Error(), "pull r/x:v1")
		})
	}
	err := classify(errors.New("bad index"), "pull r/x:v1", orchestrator.EINVALID, "not a CNAB bundle")
	assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(err))
	assert.Equal(t, "pull r/x:v1: not a CNAB bundle", orchestrator.ErrorMessage(err))
}

func TestTag(t *testing.T) {
	tests := []struct{ ref, version, want, code string }{
		{"example.com/stackhub/demo", "0.1.0", "example.com/stackhub/demo:v0.1.0", ""},
		{"example.com/stackhub/demo", "1.0.0+build.5", "example.com/stackhub/demo:v1.0.0_build.5", ""},
		{"example.com/stackhub/demo:latest", "0.1.0", "example.com/stackhub/demo:latest", ""},
		{"demo", "0.1.0", "docker.io/library/demo:v0.1.0", ""},
		{"example.com/demo@sha256:" + fmt.Sprintf("%064d", 0), "0.1.0", "", orchestrator.EINVALID},
		{"Bad Ref", "0.1.0", "", orchestrator.EINVALID},
	}
	for _, tc := range tests {
		got, err := Tag(tc.ref, tc.version)
		assert.Equal(t, tc.code, orchestrator.ErrorCode(err), "%s: %v", tc.ref, err)
		assert.Equal(t, tc.want, got)
	}
}

func TestImportTag(t *testing.T) {
	d := "sha256:" + fmt.Sprintf("%064d", 7)
	tests := map[string]string{
		"stackhub-test/web:dev":             "stackhub.local/import/docker.io/stackhub-test/web:dev",
		"docker.io/library/redmine:5.1.3":   "stackhub.local/import/docker.io/library/redmine:5.1.3",
		"mariadb":                           "stackhub.local/import/docker.io/library/mariadb:latest",
		"127.0.0.1:5000/stackhub/demo@" + d: "stackhub.local/import/127.0.0.1-5000/stackhub/demo:sha256-" + d[7:],
		"ghcr.io/websoft9/x:1@" + d:         "stackhub.local/import/ghcr.io/websoft9/x:1",
	}
	for in, want := range tests {
		got, err := ImportTag(in)
		assert.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	_, err := ImportTag("UPPER/case")
	assert.Error(t, err)
}

func TestLocalTag(t *testing.T) {
	d := "sha256:" + fmt.Sprintf("%064d", 7)
	tests := map[string]string{
		"stackhub-test/web:dev":             "stackhub-test/web:dev",
		"docker.io/library/redmine:5.1.3":   "redmine:5.1.3",
		"127.0.0.1:5000/stackhub/demo@" + d: "127.0.0.1:5000/stackhub/demo:sha256-" + d[7:],
		"example.com/x:1@" + d:              "example.com/x:1",
	}
	for in, want := range tests {
		got, err := localTag(in)
		assert.NoError(t, err)
		assert.Equal(t, want, got, in)
	}
}

// TestInsecureNamesRegistries: only the named registries may be plain
// HTTP; another registry keeps https (loopback is always plain HTTP).
func TestInsecureNamesRegistries(t *testing.T) {
	c := &client{reg: Registry{Insecure: []string{"mirror.lan:5000"}}}
	for ref, scheme := range map[string]string{
		"mirror.lan:5000/x/y:1": "http",
		"MIRROR.lan:5000/x/y:1": "http",
		"mirror.lan/x/y:1":      "https",
		"other.example.com/x:1": "https",
		"localhost:5000/x:1":    "http",
		"127.0.0.1:5000/x:1":    "http",
		"docker.io/library/x:1": "https",
	} {
		r, err := c.parse(ref)
		require.NoError(t, err)
		assert.Equal(t, scheme, r.Context().Scheme(), ref)
	}
}
