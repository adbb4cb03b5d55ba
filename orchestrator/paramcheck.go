package orchestrator

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/cnabio/cnab-go/bundle"
)

// CheckParameters checks the values a request sets for action against the
// bundle's parameter definitions (type, minimum and maximum, enum, pattern,
// lengths: the JSON Schema Porter validates with), the parameters the
// request may set (never purge or Porter's own; a port only at install,
// where StackHub honours it when free), applyTo, and the required
// parameters nobody fills. Every problem is reported at once: an
// EPARAMETERS error whose Fields name each parameter with the rule it
// broke. It returns the values as the definitions type them (a JSON
// number 3 for an integer parameter is 3, not 3.0).
func CheckParameters(bun *bundle.Bundle, app App, action Action, request map[string]any) (map[string]any, error) {
	fields := map[string]string{}
	out := make(map[string]any, len(request))
	isPort := func(name string) bool {
		return slices.ContainsFunc(app.Ports, func(p PortParam) bool { return p.Name == name })
	}
	for _, name := range slices.Sorted(maps.Keys(request)) {
		v := plainNumber(request[name])
		p, ok := bun.Parameters[name]
		switch {
		case !ok:
			fields[name] = fmt.Sprintf("%s has no parameter %s (settable: %s)", app.Name, name, strings.Join(app.Settable, ", "))
			continue
		case isPort(name) && action != ActionInstall:
			fields[name] = "a port: the installation keeps the ports it was given"
			continue
		case !isPort(name) && !slices.Contains(app.Settable, name):
			fields[name] = "cannot be set: StackHub gives it"
			continue
		case !p.AppliesTo(string(action)):
			fields[name] = fmt.Sprintf("does not apply to %s (only %s)", action, strings.Join(p.ApplyTo, ", "))
			continue
		}
		def := bun.Definitions[p.Definition]
		if def == nil {
			fields[name] = "has no definition in bundle.json"
			continue
		}
		v = def.CoerceValue(v)
		errs, err := def.Validate(v)
		if err != nil {
			fields[name] = "cannot be checked: " + err.Error()
			continue
		}
		if len(errs) > 0 {
			msgs := make([]string, 0, len(errs))
			for _, e := range errs {
				msgs = append(msgs, e.Error)
			}
			fields[name] = strings.Join(msgs, "; ")
			continue
		}
		out[name] = v
	}
	for _, name := range slices.Sorted(maps.Keys(bun.Parameters)) {
		p := bun.Parameters[name]
		if !p.Required || !p.AppliesTo(string(action)) || isPort(name) || slices.Contains(app.Generate, name) {
			continue
		}
		if _, given := request[name]; given {
			continue
		}
		if def := bun.Definitions[p.Definition]; def != nil && def.Default != nil {
			continue
		}
		if action == ActionInstall {
			fields[name] = "required: the bundle gives it no default"
		}
	}
	if len(fields) > 0 {
		names := slices.Sorted(maps.Keys(fields))
		parts := make([]string, len(names))
		for i, n := range names {
			parts[i] = n + ": " + fields[n]
		}
		return nil, &Error{Code: EPARAMETERS, Message: fmt.Sprintf("%s %s: %d parameter value(s) refused: %s", action, app.Name, len(names), strings.Join(parts, "; ")), Fields: fields}
	}
	return out, nil
}

// plainNumber turns a json.Number into an int64 when whole, else a float64.
func plainNumber(v any) any {
	n, ok := v.(json.Number)
	if !ok {
		return v
	}
	if i, err := n.Int64(); err == nil {
		return i
	}
	if f, err := n.Float64(); err == nil && !math.IsInf(f, 0) {
		return f
	}
	return n.String()
}
