package orchestrator

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
)

// Setting is one parameter of an installation as its last successful
// install or upgrade ran it. A sensitive one never carries its value: Set
// tells whether it has one.
type Setting struct {
	Name string
	// Value is nil for a sensitive setting, and when the run had none.
	Value     any
	Sensitive bool
	Set       bool
	// Editable: an upgrade may change it (it applies to upgrade and is
	// not a port or purge).
	Editable bool
}

// AppSettings are an installation's current settings, in the order of its
// app's parameters, and the app those parameters are described by.
type AppSettings struct {
	Name    string
	Version string
	// App is the catalog entry, for the parameters' types, rules and texts.
	App    App
	Values []Setting
}

// SettingChange is one setting an upgrade would change. A sensitive one
// carries no value: only that it changes.
type SettingChange struct {
	Name      string
	From, To  any
	Sensitive bool
	// FromDefault: the last run did not set it, so From is the bundle's
	// default (a parameter new in this version, most often).
	FromDefault bool
}

// UpgradePlan is what an upgrade would do: the version it moves to and
// every setting it changes.
type UpgradePlan struct {
	Name        string
	FromVersion string
	ToVersion   string
	Changes     []SettingChange
}

// Settings returns an installation's current settings: the parameters of
// its last successful install or upgrade (the bundle's default for one it
// did not set), sensitive ones masked.
//
// Returns EINVALID for a bad name, ENOTFOUND for an unknown installation
// or an app no longer in the catalog.
func (e *Engine) Settings(ctx context.Context, name string) (AppSettings, error) {
	if err := validateName("name", name); err != nil {
		return AppSettings{}, err
	}
	inst, err := e.d.Installations.Installation(ctx, name)
	if err != nil {
		return AppSettings{}, fmt.Errorf("settings of %s: %w", name, err)
	}
	app, err := e.d.Catalog.App(ctx, inst.App)
	if err != nil {
		return AppSettings{}, fmt.Errorf("settings of %s: %w", name, err)
	}
	stored, err := e.d.Runs.LastParameters(ctx, name)
	if err != nil && ErrorCode(err) != ENOTFOUND {
		return AppSettings{}, fmt.Errorf("settings of %s: %w", name, err)
	}
	out := AppSettings{Name: name, Version: inst.Version, App: app}
	for _, p := range app.Parameters {
		if p.Port || !p.Settable {
			continue
		}
		v, isStored := stored[p.Name]
		if !isStored {
			v = p.Default // what the run got: Porter fills defaults in
		}
		s := Setting{Name: p.Name, Sensitive: p.Sensitive, Set: v != nil && v != "",
			Editable: p.Settable && appliesTo(p.ApplyTo, ActionUpgrade)}
		if !p.Sensitive {
			s.Value = v
		}
		out.Values = append(out.Values, s)
	}
	return out, nil
}

// PlanUpgrade tells what Upgrade would do with req, without doing it: the
// version it moves to and each setting a value asked for changes (a
// setting no one set changes with the bundle's default only, which the
// plan does not list). It refuses what Upgrade refuses, with
// the same errors (EPARAMETERS for wrong values).
func (e *Engine) PlanUpgrade(ctx context.Context, req UpgradeRequest) (UpgradePlan, error) {
	r := &runState{name: req.Name, action: ActionUpgrade, request: req.Parameters}
	if err := e.checkModify(ctx, r); err != nil {
		return UpgradePlan{}, err
	}
	stored, err := e.d.Runs.LastParameters(ctx, r.name)
	if err != nil && ErrorCode(err) != ENOTFOUND {
		return UpgradePlan{}, fmt.Errorf("plan upgrade of %s: %w", r.name, err)
	}
	plan := UpgradePlan{Name: r.name, FromVersion: r.inst.Version, ToVersion: r.app.Version}
	for _, p := range r.app.Parameters {
		if p.Port || !p.Settable || !appliesTo(p.ApplyTo, ActionUpgrade) {
			continue
		}
		from, had := stored[p.Name]
		if !had {
			from = p.Default
		}
		to, asked := r.request[p.Name]
		if !asked || sameValue(from, to) {
			// Not asked: kept as it is (the default, if it was).
			continue
		}
		c := SettingChange{Name: p.Name, Sensitive: p.Sensitive, FromDefault: !had}
		if !p.Sensitive {
			c.From, c.To = from, to
		}
		plan.Changes = append(plan.Changes, c)
	}
	return plan, nil
}

// appliesTo tells whether a parameter with applyTo reaches action (an
// empty applyTo reaches every action).
func appliesTo(applyTo []string, action Action) bool {
	return len(applyTo) == 0 || slices.Contains(applyTo, string(action))
}

// sameValue compares two parameter values as JSON: a stored 3.0 and a
// requested 3 are the same.
func sameValue(a, b any) bool {
	ja, errA := json.Marshal(plainNumber(a))
	jb, errB := json.Marshal(plainNumber(b))
	return errA == nil && errB == nil && string(ja) == string(jb)
}

// Stats samples the resource use of an installation's running containers.
// For an app on a Swarm node other than the one StackHub runs on, whose
// containers the manager's API cannot sample, every container is listed
// with Unavailable saying so and its node's figures (remoteStats).
//
// Returns EINVALID for a bad name, ENOTFOUND, and EUNAVAILABLE when Docker
// does not answer or no stats source is configured.
func (e *Engine) Stats(ctx context.Context, name string) ([]ContainerStats, error) {
	if err := validateName("name", name); err != nil {
		return nil, err
	}
	inst, err := e.d.Installations.Installation(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("stats of %s: %w", name, err)
	}
	if e.d.ContainerStats == nil {
		return nil, Errorf(EUNAVAILABLE, "container stats are not available")
	}
	if !inst.State.Live() || len(inst.Containers) == 0 {
		return []ContainerStats{}, nil
	}
	if !e.isLocal(inst) {
		return e.remoteStats(inst), nil
	}
	stats, err := e.d.ContainerStats.ContainerStats(ctx, inst.Containers)
	if err != nil {
		return nil, fmt.Errorf("stats of %s: %w", name, err)
	}
	return stats, nil
}

// remoteStats is Stats' answer for inst, placed on another Swarm node:
// one entry per container, not sampled, with the reason and the node as
// the manager last saw it.
func (e *Engine) remoteStats(inst Installation) []ContainerStats {
	var node *Node
	if e.d.Nodes != nil {
		if n, ok := e.d.Nodes.SwarmNode(inst.Node.NodeID); ok {
			node = &n
		}
	}
	if node == nil {
		node = &Node{ID: inst.Node.NodeID, Hostname: inst.Node.Hostname, Addr: inst.Node.Addr, State: "unknown"}
	}
	why := fmt.Sprintf("%s runs on Swarm node %s, whose containers StackHub cannot sample through the manager's API: its figures are the node's (what it has, not what it uses)",
		inst.Name, cmp.Or(node.Hostname, inst.Node.NodeID))
	out := make([]ContainerStats, 0, len(inst.Containers))
	for _, c := range inst.Containers {
		out = append(out, ContainerStats{Name: c, Unavailable: why, Node: node})
	}
	return out
}
