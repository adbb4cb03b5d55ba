package orchestrator

import (
	"encoding/base64"
	"math"
	"sort"

	"github.com/cnabio/cnab-go/bundle"
	"github.com/cnabio/cnab-go/bundle/definition"
)

// parameterSourcesKey is the CNAB extension that says which parameters
// take their value from earlier outputs (porter-state, porter-<o>-output,
// parameters with source.output).
const parameterSourcesKey = "io.cnab.parameter-sources"

// resolveParameters returns the values of bun's parameters for action in
// Porter's order, each later source winning: outputs of earlier runs named
// by the parameter-sources extension, then stored values, then the
// request's. Defaults are left to cnab-go, which applies them and validates
// the result. Parameters that do not apply to action are left out, and
// whole numbers become ints where the definition says integer.
func resolveParameters(bun *bundle.Bundle, action string, outputs map[string][]byte, stored, request map[string]any) map[string]any {
	out := map[string]any{}
	for param, output := range outputSources(bun) {
		v, ok := outputs[output]
		if !ok {
			continue
		}
		if def := definitionOf(bun, param); def != nil && def.ContentEncoding == "base64" {
			out[param] = base64.StdEncoding.EncodeToString(v)
		} else {
			out[param] = string(v)
		}
	}
	for _, vals := range []map[string]any{stored, request} {
		for k, v := range vals {
			out[k] = v
		}
	}
	for k, v := range out {
		p, ok := bun.Parameters[k]
		if !ok || !p.AppliesTo(action) {
			delete(out, k)
			continue
		}
		if f, isFloat := v.(float64); isFloat && f == math.Trunc(f) {
			if def := definitionOf(bun, k); def != nil && def.Type == "integer" {
				out[k] = int(f)
			}
		}
	}
	return out
}

func definitionOf(bun *bundle.Bundle, param string) *definition.Schema {
	p, ok := bun.Parameters[param]
	if !ok {
		return nil
	}
	return bun.Definitions[p.Definition]
}

// outputSources reads the parameter-sources extension: parameter → the
// output it comes from. Dependency sources are not supported yet.
func outputSources(bun *bundle.Bundle) map[string]string {
	ext, _ := bun.Custom[parameterSourcesKey].(map[string]any)
	out := map[string]string{}
	names := make([]string, 0, len(ext))
	for k := range ext {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, param := range names {
		entry, _ := ext[param].(map[string]any)
		sources, _ := entry["sources"].(map[string]any)
		output, _ := sources["output"].(map[string]any)
		if name, ok := output["name"].(string); ok && name != "" {
			out[param] = name
		}
	}
	return out
}
