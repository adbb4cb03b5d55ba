package swarmspec

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/swarm"
)

// Config is one compose config as a Swarm config, created before the
// services that read it. Swarm configs are immutable: the name carries a
// hash of the content, so an upgrade that changes the content makes a new
// config (and its services' specs name the new one), while one that does
// not keeps it; the mixin removes the app's configs the plan no longer
// names once the services are updated, and all of them on uninstall.
type Config struct {
	// Key is the config's key in the compose file.
	Key  string
	Spec swarm.ConfigSpec
}

// MaxConfigSize is the most a Swarm config holds (swarmkit's
// MaxConfigSize, 1000 KB); a config holds at least one byte.
const MaxConfigSize = 1000 * 1024

// configNameRE and maxConfigName are what a Swarm manager accepts as a
// config's name.
var configNameRE = regexp.MustCompile(`^[a-zA-Z0-9]+(?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?$`)

const maxConfigName = 64

// configHashLen is how many hex digits of the content's SHA-256 a config's
// name carries.
const configHashLen = 12

// ConfigName is the Swarm name of config key of project holding content:
// <project>_<key>-<12 hex digits of content's SHA-256>. The project
// (websoft9-<app>) keeps two apps' configs apart; the hash, an upgrade's
// new content from the old one.
func ConfigName(project *types.Project, key, content string) string {
	sum := sha256.Sum256([]byte(content))
	return ObjectName(project, key) + "-" + hex.EncodeToString(sum[:])[:configHashLen]
}

// ConfigPrefix is what every Swarm config name of config key of project
// starts with (ConfigName without the hash).
func ConfigPrefix(project *types.Project, key string) string { return ObjectName(project, key) + "-" }

// configs returns the project's configs that the enabled services read, as
// Swarm configs, with their names by key.
func (c *converter) configs() ([]Config, map[string]string, []Unsupported) {
	used := map[string]bool{}
	for _, s := range c.project.Services {
		for _, ref := range s.Configs {
			used[ref.Source] = true
		}
	}
	var out []Config
	var problems []Unsupported
	names := map[string]string{}
	for _, key := range slices.Sorted(maps.Keys(c.project.Configs)) {
		if !used[key] {
			continue
		}
		cfg := c.project.Configs[key]
		prefix := "configs." + key + "."
		problems = append(problems, refusals(cfg, "", prefix, configRules)...)
		if cfg.External {
			continue // refused: an app reads only configs of its own
		}
		base := c.objectName(key)
		if !cfg.External && cfg.Name != "" && cfg.Name != base {
			problems = append(problems, Unsupported{Key: prefix + "name", Reason: fmt.Sprintf("StackHub names the app's configs itself (%s-<content hash>)", base)})
		}
		content, why := c.configContent(key, cfg)
		if why != "" {
			problems = append(problems, Unsupported{Key: "configs." + key, Reason: why})
			continue
		}
		name := ConfigName(c.project, key, content)
		if len(name) > maxConfigName || !configNameRE.MatchString(name) {
			problems = append(problems, Unsupported{Key: "configs." + key, Reason: fmt.Sprintf(
				"the Swarm config name %s is not one Swarm takes (at most %d letters, digits, '-', '_' and '.', a letter or digit at each end): shorten the app or the config's key", name, maxConfigName)})
			continue
		}
		labels := maps.Clone(map[string]string(cfg.Labels))
		if labels == nil {
			labels = map[string]string{}
		}
		maps.Copy(labels, c.appLabels())
		names[key] = name
		out = append(out, Config{Key: key, Spec: swarm.ConfigSpec{Annotations: swarm.Annotations{Name: name, Labels: labels}, Data: []byte(content)}})
	}
	return out, names, problems
}

// configContent returns what config key holds, or why it cannot be a
// Swarm config.
func (c *converter) configContent(key string, cfg types.ConfigObjConfig) (string, string) {
	content := cfg.Content
	switch {
	case content == "" && cfg.Environment != "":
		v, ok := c.project.Environment[cfg.Environment]
		if !ok {
			return "", fmt.Sprintf("its content is variable %s, which is not set", cfg.Environment)
		}
		content = v
	case content == "" && cfg.File != "":
		return "", "a Swarm config is made from its content, and the node has no file " + cfg.File +
			" (the mixin reads the bundle's files into content; this one was not)"
	}
	if len(content) == 0 || len(content) > MaxConfigSize {
		return "", fmt.Sprintf("a Swarm config holds 1 byte to %d KB; this one has %d bytes", MaxConfigSize/1024, len(content))
	}
	return content, ""
}

// configRefs returns the configs service s reads as Swarm references to
// the app's configs (c.configNames): each a file at its target (/<source>
// unless given; a relative target is under /), owned by uid and gid (0
// unless given), mode 0444 unless given. ConfigID is left for the mixin,
// which knows it once the config exists (Plan.SetConfigIDs).
func (c *converter) configRefs(k *check, s types.ServiceConfig) []*swarm.ConfigReference {
	var out []*swarm.ConfigReference
	targets := map[string]bool{}
	for i, ref := range s.Configs {
		prefix := fmt.Sprintf("configs[%d].", i)
		k.refuse(ref, prefix, serviceConfigRules)
		target := ref.Target
		if target == "" {
			target = "/" + ref.Source
		}
		if !path.IsAbs(target) {
			target = "/" + target
		}
		target = path.Clean(target)
		if targets[target] {
			k.add(prefix+"target", fmt.Sprintf("two configs at %s", target))
		}
		targets[target] = true
		uid, gid := ref.UID, ref.GID
		if uid == "" {
			uid = "0"
		}
		if gid == "" {
			gid = "0"
		}
		mode := os.FileMode(0o444)
		if ref.Mode != nil {
			if *ref.Mode < 0 || *ref.Mode > 0o777 {
				k.add(prefix+"mode", fmt.Sprintf("mode %o is not a file's permission bits", *ref.Mode))
			}
			mode = os.FileMode(*ref.Mode) & os.ModePerm
		}
		name, ok := c.configNames[ref.Source]
		if !ok {
			// Its config was refused (a problem already), or is no
			// config of the project (compose-go refuses that on load).
			continue
		}
		out = append(out, &swarm.ConfigReference{ConfigName: name,
			File: &swarm.ConfigReferenceFileTarget{Name: target, UID: uid, GID: gid, Mode: mode}})
	}
	slices.SortFunc(out, func(a, b *swarm.ConfigReference) int { return strings.Compare(a.File.Name, b.File.Name) })
	return out
}

// SetConfigIDs fills the ConfigID of every config reference of the plan's
// services from ids (by config name), as a manager requires; it returns
// an error naming a config ids lacks.
func (p *Plan) SetConfigIDs(ids map[string]string) error {
	for _, s := range p.Services {
		for _, ref := range s.Spec.TaskTemplate.ContainerSpec.Configs {
			id, ok := ids[ref.ConfigName]
			if !ok {
				return fmt.Errorf("service %s reads config %s, which was not created", s.Name, ref.ConfigName)
			}
			ref.ConfigID = id
		}
	}
	return nil
}
