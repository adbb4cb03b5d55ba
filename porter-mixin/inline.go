package portermixin

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// inlineDocument returns a compose file for a step's inline services: the
// services as written, plus top-level volumes and networks entries for the
// named volumes and networks they use (a compose file must declare them;
// the step has no place to). The result is loaded without interpolation.
func inlineDocument(services map[string]any) ([]byte, error) {
	volumes, networks := map[string]any{}, map[string]any{}
	for _, name := range slices.Sorted(maps.Keys(services)) {
		svc, ok := services[name].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("services.%s must be a map (a compose service), got %T", name, services[name])
		}
		if vs, ok := svc["volumes"].([]any); ok {
			for _, v := range vs {
				if src, kind := volumeSource(v); kind == mountVolume && src != "" {
					volumes[src] = map[string]any{}
				}
			}
		}
		switch ns := svc["networks"].(type) {
		case []any:
			for _, n := range ns {
				if s, ok := n.(string); ok && s != "default" {
					networks[s] = map[string]any{}
				}
			}
		case map[string]any:
			for n := range ns {
				if n != "default" {
					networks[n] = map[string]any{}
				}
			}
		}
	}
	doc := map[string]any{"services": services}
	if len(volumes) > 0 {
		doc["volumes"] = volumes
	}
	if len(networks) > 0 {
		doc["networks"] = networks
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode inline services: %w", err)
	}
	return b, nil
}

// Mount kinds volumeSource tells apart.
const (
	mountVolume = "volume" // a named volume, or anonymous when the source is empty
	mountBind   = "bind"   // a host path
	mountOther  = "other"  // tmpfs, npipe, cluster, image…
)

// volumeSource classifies one entry of a service's volumes list, in short
// ("src:dst[:mode]", "dst") or long ({type, source, target}) syntax, the
// way compose does: a short source starting with ., / or ~ is a host path.
func volumeSource(v any) (source, kind string) {
	switch v := v.(type) {
	case string:
		src, _, ok := strings.Cut(v, ":")
		if !ok {
			return "", mountVolume // anonymous
		}
		if isHostPath(src) {
			return src, mountBind
		}
		return src, mountVolume
	case map[string]any:
		typ, _ := v["type"].(string)
		src, _ := v["source"].(string)
		switch typ {
		case "bind":
			return src, mountBind
		case "volume", "":
			if typ == "" && isHostPath(src) {
				return src, mountBind
			}
			return src, mountVolume
		default:
			return src, mountOther
		}
	}
	return "", mountOther
}

func isHostPath(src string) bool {
	return strings.HasPrefix(src, "/") || strings.HasPrefix(src, ".") || strings.HasPrefix(src, "~") ||
		(len(src) >= 2 && src[1] == ':') // C:\ on Windows
}

// templateTag matches one ${ … } tag; Porter renders all of them.
var templateTag = regexp.MustCompile(`\$\{([^}]*)\}`)

// composeInterpolations returns the ${…} tags in s that are not Porter
// template variables (bundle.*, installation.*, env.*): compose
// interpolation, which fails Porter's rendering and is not applied to
// inline services anyway.
func composeInterpolations(s string) []string {
	var out []string
	for _, m := range templateTag.FindAllStringSubmatch(s, -1) {
		v := strings.TrimSpace(m[1])
		if strings.HasPrefix(v, "bundle.") || strings.HasPrefix(v, "installation.") || strings.HasPrefix(v, "env.") {
			continue
		}
		out = append(out, m[0])
	}
	return out
}

// walkStrings calls f with the path and value of every string (keys
// included) under v.
func walkStrings(v any, at string, f func(at, s string)) {
	switch v := v.(type) {
	case string:
		f(at, v)
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			f(at+"."+k, k)
			walkStrings(v[k], at+"."+k, f)
		}
	case []any:
		for i, x := range v {
			walkStrings(x, fmt.Sprintf("%s[%d]", at, i), f)
		}
	}
}
