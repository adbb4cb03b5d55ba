package portermixin

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A config or secret read from a file of the bundle reaches compose as
// content (copied into the container through the API), never as a bind
// mount of a path only the invocation image has.
func TestInlineFileObjects(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte("scrape_configs: []\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "token"), []byte("s3cret"), 0o600))
	p := &types.Project{
		Configs: types.Configs{
			"prom":   {Name: "prom", File: filepath.Join(dir, "prometheus.yml")},
			"inline": {Name: "inline", Content: "as written"},
		},
		Secrets: types.Secrets{"token": {Name: "token", File: filepath.Join(dir, "token")}},
	}
	require.NoError(t, inlineFileObjects(p, dir))
	assert.Equal(t, types.ConfigObjConfig{Name: "prom", Content: "scrape_configs: []\n"}, p.Configs["prom"])
	assert.Equal(t, types.ConfigObjConfig{Name: "inline", Content: "as written"}, p.Configs["inline"])
	assert.Equal(t, types.SecretConfig{Name: "token", Environment: "websoft9.secret.token"}, p.Secrets["token"])
	assert.Equal(t, "s3cret", p.Environment["websoft9.secret.token"])

	for what, p := range map[string]*types.Project{
		"config prom reads": {Configs: types.Configs{"prom": {File: "/etc/passwd"}}},
		"secret key reads":  {Secrets: types.Secrets{"key": {File: filepath.Join(dir, "..", "key")}}},
	} {
		err := inlineFileObjects(p, dir)
		require.Error(t, err, what)
		assert.Contains(t, err.Error(), what)
		assert.Contains(t, err.Error(), "outside the bundle")
	}
	missing := &types.Project{Configs: types.Configs{"gone": {File: filepath.Join(dir, "gone.yml")}}}
	assert.ErrorIs(t, inlineFileObjects(missing, dir), os.ErrNotExist)
}
