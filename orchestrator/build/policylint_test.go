package build

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator/dockerpolicy"
	"github.com/websoft9/stackhub/porter-mixin/manifest"
)

const hostileManifest = `schemaVersion: 1.0.1
name: hostile
version: 1.0.0
registry: localhost:5000
mixins: [websoft9]
parameters:
  - name: port
    type: integer
    minimum: 9001
    maximum: 9999
install:
  - websoft9:
      description: Start
      app: ${ installation.name }
      compose: docker-compose.yml
      main: web
      env:
        WEB_PORT: ${ bundle.parameters.port }
uninstall:
  - websoft9:
      description: Stop
      app: ${ installation.name }
`

// TestLintPolicy: the lint applies the socket's rule table to the compose
// model, every violation at once, located in the compose file.
func TestLintPolicy(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, ManifestFile), []byte(hostileManifest), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "docker-compose.yml"), []byte(`services:
  web:
    image: nginx
    privileged: true
    cap_add: [NET_ADMIN]
    volumes:
      - /etc:/host-etc
      - data:/data
    ports:
      - "${WEB_PORT}:80"
      - "127.0.0.1:${WEB_PORT}:81"
      - "22:22"
  db:
    image: nginx
    pid: host
volumes:
  data:
    driver_opts: {type: none, o: bind, device: /srv}
networks:
  lan:
    driver: macvlan
`), 0o644))
	findings, err := Lint(t.Context(), LintOptions{Dir: dir})
	require.NoError(t, err)
	type got struct {
		code, field string
		line        int
	}
	var all []got
	for _, f := range findings {
		require.Equal(t, PolicySource, f.Source, "%v", f)
		assert.Equal(t, "docker-compose.yml", f.File)
		all = append(all, got{f.Code, f.Field, f.Line})
	}
	assert.ElementsMatch(t, []got{
		{dockerpolicy.RulePrivileged, "services.web.privileged", 4},
		{dockerpolicy.RuleCapAdd, "services.web.cap_add", 5},
		{dockerpolicy.RuleBindMount, "services.web.volumes", 6},
		{dockerpolicy.RulePorts, "services.web.ports", 9},
		{dockerpolicy.RuleHostNamespace, "services.db.pid", 15},
		{dockerpolicy.RuleVolumeDriver, "volumes.data", 17},
		{dockerpolicy.RuleNetworkDriver, "networks.lan", 20},
	}, all)

	// A permission the bundle declares is what the operator grants: the
	// lint lets it through (the install asks for the grant).
	declared := hostileManifest + "custom:\n  sh.websoft9:\n    permissions: [\"cap-add:NET_ADMIN\", privileged]\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, ManifestFile), []byte(declared), 0o644))
	findings, err = Lint(t.Context(), LintOptions{Dir: dir})
	require.NoError(t, err)
	assert.Len(t, findings, len(all)-2)
	for _, f := range findings {
		assert.NotContains(t, []string{dockerpolicy.RulePrivileged, dockerpolicy.RuleCapAdd}, f.Code)
	}

	// A declaration in another form is a finding; the valid entries still
	// count, in any spelling ParsePermission accepts.
	declared = hostileManifest + "custom:\n  sh.websoft9:\n    permissions: [\"CAP-ADD:cap_net_admin\", privileged, \"frobnicate:x\", \"docker-socket:/x\"]\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, ManifestFile), []byte(declared), 0o644))
	findings, err = Lint(t.Context(), LintOptions{Dir: dir})
	require.NoError(t, err)
	var bad []manifest.Finding
	for _, f := range findings {
		if f.Code == PermissionsCode {
			bad = append(bad, f)
		}
	}
	require.Len(t, bad, 1)
	assert.Equal(t, "custom.sh.websoft9.permissions", bad[0].Field)
	assert.Contains(t, bad[0].Message, `unknown kind "frobnicate"`)
	assert.Contains(t, bad[0].Message, "docker-socket takes no value")
	assert.Len(t, findings, len(all)-2+1)
}
