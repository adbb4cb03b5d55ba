package swarmspec

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/moby/moby/api/types/swarm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConvert_Configs: each compose config a service reads becomes a
// Swarm config named <project>_<key>-<content hash>, labelled with the
// app, and the service's entry a file reference: at its target (/<source>
// by default, a relative one under /), owned by uid/gid (0 by default),
// mode 0444 unless given. A config no enabled service reads is not
// created.
func TestConvert_Configs(t *testing.T) {
	compose := `services:
  web:
    image: nginx:1.27
    configs:
      - source: site
        target: /etc/nginx/conf.d/site.conf
        uid: "101"
        gid: "101"
        mode: 0440
      - source: motd
      - source: rel
        target: etc/rel.txt
configs:
  site:
    content: |
      server { listen 80; }
    labels:
      com.example.kind: nginx
  motd:
    environment: MOTD
  rel:
    content: relative
  unused:
    content: nobody reads me
`
	p := mustLoad(t, compose, "MOTD=hello from the environment")
	plan := mustConvert(t, p, blogOptions())
	site := ConfigName(p, "site", "server { listen 80; }\n")
	motd := ConfigName(p, "motd", "hello from the environment")
	rel := ConfigName(p, "rel", "relative")
	assert.Regexp(t, `^websoft9-blog_site-[0-9a-f]{12}$`, site)
	require.Len(t, plan.Configs, 3, "the unused config is not created")
	assert.Equal(t, []Config{
		{Key: "motd", Spec: swarm.ConfigSpec{Annotations: swarm.Annotations{Name: motd,
			Labels: map[string]string{"sh.websoft9.app": "blog", StackLabel: "websoft9-blog"}}, Data: []byte("hello from the environment")}},
		{Key: "rel", Spec: swarm.ConfigSpec{Annotations: swarm.Annotations{Name: rel,
			Labels: map[string]string{"sh.websoft9.app": "blog", StackLabel: "websoft9-blog"}}, Data: []byte("relative")}},
		{Key: "site", Spec: swarm.ConfigSpec{Annotations: swarm.Annotations{Name: site,
			Labels: map[string]string{"com.example.kind": "nginx", "sh.websoft9.app": "blog", StackLabel: "websoft9-blog"}}, Data: []byte("server { listen 80; }\n")}},
	}, plan.Configs)
	assert.Equal(t, []*swarm.ConfigReference{
		{ConfigName: site, File: &swarm.ConfigReferenceFileTarget{Name: "/etc/nginx/conf.d/site.conf", UID: "101", GID: "101", Mode: 0o440}},
		{ConfigName: rel, File: &swarm.ConfigReferenceFileTarget{Name: "/etc/rel.txt", UID: "0", GID: "0", Mode: 0o444}},
		{ConfigName: motd, File: &swarm.ConfigReferenceFileTarget{Name: "/motd", UID: "0", GID: "0", Mode: 0o444}},
	}, containerSpec(plan).Configs, "sorted by target")

	// The manager wants each reference's config ID: the mixin sets them
	// once the configs exist.
	err := plan.SetConfigIDs(map[string]string{site: "id-site", motd: "id-motd"})
	assert.ErrorContains(t, err, "reads config "+rel+", which was not created")
	require.NoError(t, plan.SetConfigIDs(map[string]string{site: "id-site", motd: "id-motd", rel: "id-rel"}))
	var ids []string
	for _, r := range containerSpec(plan).Configs {
		ids = append(ids, r.ConfigID)
	}
	assert.Equal(t, []string{"id-site", "id-rel", "id-motd"}, ids)
	assert.Contains(t, plan.String(), "config "+site+" (22 bytes)\n")
}

// TestConfigName: the name changes with the content (Swarm configs are
// immutable: an upgrade with new content makes a new one), never with the
// app's other settings, and two apps' names differ.
func TestConfigName(t *testing.T) {
	p := mustLoad(t, web(""))
	a, b := ConfigName(p, "cfg", "one"), ConfigName(p, "cfg", "two")
	assert.NotEqual(t, a, b)
	assert.Equal(t, a, ConfigName(p, "cfg", "one"))
	assert.Equal(t, "websoft9-blog_cfg-", ConfigPrefix(p, "cfg"))
	assert.Regexp(t, "^"+ConfigPrefix(p, "cfg")+"[0-9a-f]{12}$", a)
	other := mustLoadFile(t, writeCompose(t, web("")), "websoft9-shop", nil)
	assert.NotEqual(t, ConfigName(p, "cfg", "one"), ConfigName(other, "cfg", "one"), "two apps never share a config")
}

// writeCompose writes compose to a docker-compose.yml of a new directory
// and returns its path.
func writeCompose(t *testing.T, compose string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "docker-compose.yml")
	require.NoError(t, os.WriteFile(path, []byte(compose), 0o644))
	return path
}
