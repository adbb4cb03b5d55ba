package portermixin

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/websoft9/stackhub/porter-mixin/events"
	"os"
	"path/filepath"
	"strings"

	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// writeOutputs writes one file per output of the step to m.OutputsDir,
// holding the raw value. It stops at the first output it cannot resolve;
// the files already written stay (the bundle runtime collects them either
// way).
func (m *Mixin) writeOutputs(ctx context.Context, in stepInput, p Plan) error {
	if len(in.Step.Outputs) == 0 {
		return nil
	}
	if err := os.MkdirAll(m.OutputsDir, 0o755); err != nil {
		return fmt.Errorf("%s step %q: outputs: %w", in.Action, in.Step.Description, err)
	}
	inspected := map[string]json.RawMessage{}
	inspect := func(service string) (json.RawMessage, error) {
		if doc, ok := inspected[service]; ok {
			return doc, nil
		}
		doc, err := m.Compose.Inspect(ctx, p, service)
		if err != nil {
			return nil, err
		}
		inspected[service] = doc
		return doc, nil
	}
	names := make([]string, 0, len(in.Step.Outputs))
	for _, o := range in.Step.Outputs {
		val, err := outputValue(o, p, inspect)
		if err != nil {
			return fmt.Errorf("%s step %q: output %s: %w", in.Action, in.Step.Description, o.Name, err)
		}
		if err := os.WriteFile(filepath.Join(m.OutputsDir, o.Name), []byte(val), 0o644); err != nil {
			return fmt.Errorf("%s step %q: output %s: %w", in.Action, in.Step.Description, o.Name, err)
		}
		names = append(names, o.Name)
	}
	m.emit(events.Event{Stage: events.StageOutputs, Action: in.Action, App: p.App, Message: strings.Join(names, ", ")})
	return nil
}

// outputValue resolves one output. inspect returns `docker inspect` of a
// service's container.
func outputValue(o OutputSpec, p Plan, inspect func(service string) (json.RawMessage, error)) (string, error) {
	if o.Name == "" {
		return "", fmt.Errorf("no name")
	}
	if err := o.checkSource(); err != nil {
		return "", err
	}
	switch {
	case o.Value != nil:
		return *o.Value, nil
	case o.Env != "":
		v, ok := p.Env[o.Env]
		if !ok {
			return "", fmt.Errorf("env %s is not set in the step", o.Env)
		}
		return v, nil
	case o.Port != nil:
		return publishedPort(*o.Port, inspect)
	case o.JSONPath != "":
		doc, err := inspect(o.Container)
		if err != nil {
			return "", fmt.Errorf("inspect service %s: %w", o.Container, err)
		}
		v, err := selectJSON(doc, o.JSONPath)
		if err != nil {
			return "", fmt.Errorf("jsonPath on service %s: %w", o.Container, err)
		}
		return v, nil
	default: // container alone
		if p.Main != "" {
			return naming.Container(p.App, o.Container, o.Container == p.Main), nil
		}
		// Without main the name cannot be derived: ask the container.
		doc, err := inspect(o.Container)
		if err != nil {
			return "", fmt.Errorf("container of service %s (the step sets no main, so the name is read from the container): %w", o.Container, err)
		}
		name, err := selectJSON(doc, "$.Name")
		if err != nil {
			return "", fmt.Errorf("container of service %s: %w", o.Container, err)
		}
		return strings.TrimPrefix(name, "/"), nil
	}
}

// publishedPort returns the host port sel's container port is published
// on, from NetworkSettings.Ports of the service's container.
func publishedPort(sel PortSelector, inspect func(string) (json.RawMessage, error)) (string, error) {
	if sel.Service == "" {
		return "", fmt.Errorf("port: service is required")
	}
	target, err := portNumber(sel.Target)
	if err != nil {
		return "", fmt.Errorf("port: %w", err)
	}
	proto := sel.Protocol
	if proto == "" {
		proto = "tcp"
	}
	if proto != "tcp" && proto != "udp" {
		return "", fmt.Errorf("port: protocol %q is neither tcp nor udp", proto)
	}
	doc, err := inspect(sel.Service)
	if err != nil {
		return "", fmt.Errorf("inspect service %s: %w", sel.Service, err)
	}
	var c struct {
		NetworkSettings struct {
			Ports map[string][]struct{ HostIP, HostPort string }
		}
	}
	if err := json.Unmarshal(doc, &c); err != nil {
		return "", fmt.Errorf("inspect service %s: %w", sel.Service, err)
	}
	key := fmt.Sprintf("%d/%s", target, proto)
	for _, b := range c.NetworkSettings.Ports[key] {
		if b.HostPort != "" {
			return b.HostPort, nil
		}
	}
	return "", fmt.Errorf("port: service %s does not publish %s", sel.Service, key)
}
