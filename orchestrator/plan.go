package orchestrator

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/websoft9/stackhub/orchestrator/portalloc"
	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// Observed is a snapshot of the store and the host taken before planning.
type Observed struct {
	// Reserved maps a port held in the ledger to its installation.
	Reserved map[int]string
	// HostBusy holds ports bound or published on the host.
	HostBusy map[int]bool
	// Requested are the install request's parameter values: a port
	// parameter there asks for that port.
	Requested map[string]any
}

// Plan is what an install will do, decided before anything is touched.
type Plan struct {
	Installation string
	App          string
	Version      string
	Action       Action
	Ports        []PortBinding
	Containers   []string
	Parameters   map[string]any
}

// String lists the plan, one fact per line, in a stable order.
func (p Plan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "install %s (app %s %s), CNAB action %s\n", p.Installation, p.App, p.Version, p.Action)
	for _, pb := range p.Ports {
		fmt.Fprintf(&b, "port %s = %d\n", pb.Param, pb.Port)
	}
	for _, c := range p.Containers {
		fmt.Fprintf(&b, "container %s\n", c)
	}
	keys := make([]string, 0, len(p.Parameters))
	for k := range p.Parameters {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "parameter %s = %v\n", k, p.Parameters[k])
	}
	return b.String()
}

// ContainerNames returns the container names app creates as installation name.
func ContainerNames(name string, app App) []string {
	out := make([]string, 0, len(app.Services))
	for _, s := range app.Services {
		out = append(out, naming.Container(name, s, s == app.Main))
	}
	sort.Strings(out)
	return out
}

// requestedPort reads a port a request asked for (CheckParameters typed
// it: an integer within the parameter's range).
func requestedPort(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case float64:
		if n == float64(int(n)) {
			return int(n), true
		}
	}
	return 0, false
}

// PlanInstall decides ports, container names and parameters for installing
// app as name. Returns ECONFLICT when a port range is exhausted or a port
// the request asked for is taken.
func PlanInstall(name string, app App, obs Observed) (Plan, error) {
	reqs := make([]portalloc.Request, 0, len(app.Ports))
	for _, p := range app.Ports {
		r := portalloc.Request{Param: p.Name, Min: p.Min, Max: p.Max}
		if port, ok := requestedPort(obs.Requested[p.Name]); ok {
			// Asked for: that port or a conflict, never another.
			if by, taken := obs.Reserved[port]; taken {
				return Plan{}, Errorf(ECONFLICT, "port %d asked for %s is reserved by %s: leave %s out and StackHub picks a free one", port, p.Name, by, p.Name)
			}
			if obs.HostBusy[port] {
				return Plan{}, Errorf(ECONFLICT, "port %d asked for %s is in use on the host: leave %s out and StackHub picks a free one", port, p.Name, p.Name)
			}
			r.Min, r.Max = port, port
		}
		reqs = append(reqs, r)
	}
	ports, err := portalloc.Assign(reqs, portalloc.Taken{Reserved: obs.Reserved, Busy: obs.HostBusy})
	if err != nil {
		if re, ok := errors.AsType[*portalloc.RangeError](err); ok {
			return Plan{}, WrapError(ECONFLICT, err, "%s", re.Error())
		}
		return Plan{}, WrapError(EINVALID, err, "bundle %s declares a bad port range", app.Name)
	}
	plan := Plan{Installation: name, App: app.Name, Version: app.Version, Action: ActionInstall,
		Containers: ContainerNames(name, app), Parameters: map[string]any{}}
	for i, p := range app.Ports {
		plan.Ports = append(plan.Ports, PortBinding{Param: p.Name, Port: ports[i]})
		plan.Parameters[p.Name] = ports[i]
	}
	return plan, nil
}
