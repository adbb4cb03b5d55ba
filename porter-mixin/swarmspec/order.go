package swarmspec

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// order returns the enabled services in dependency order (a service after
// every service it depends on; among services ready at the same time, the
// first by name) and, by service, the problems of its depends_on.
//
// Swarm has no start order: it starts every service of a stack at once.
// The mixin gets the order of compose instead by creating the services
// one by one in this order, waiting before each for the conditions of
// its Waits.
func (c *converter) order() ([]string, map[string][]Unsupported) {
	problems := map[string][]Unsupported{}
	deps := map[string][]string{}
	names := slices.Sorted(maps.Keys(c.project.Services))
	for _, name := range names {
		s := c.project.Services[name]
		for _, dep := range slices.Sorted(maps.Keys(s.DependsOn)) {
			d := s.DependsOn[dep]
			key := "depends_on." + dep
			problems[name] = append(problems[name], refusals(d, name, key+".", dependencyRules)...)
			switch d.Condition {
			case "", types.ServiceConditionStarted, types.ServiceConditionHealthy:
			case types.ServiceConditionCompletedSuccessfully:
				problems[name] = append(problems[name], Unsupported{Service: name, Key: key + ".condition",
					Reason: "a Swarm service runs until removed (a task that ends is restarted or left down); a one-shot dependency would be a Swarm job, which StackHub does not create"})
			default:
				problems[name] = append(problems[name], Unsupported{Service: name, Key: key + ".condition",
					Reason: fmt.Sprintf("unknown condition %q", d.Condition)})
			}
			if _, ok := c.project.Services[dep]; !ok {
				if d.Required {
					problems[name] = append(problems[name], Unsupported{Service: name, Key: key,
						Reason: fmt.Sprintf("service %s is not in the model (disabled by its profiles?), and %s requires it", dep, name)})
				}
				continue
			}
			deps[name] = append(deps[name], dep)
		}
	}
	var order []string
	done := map[string]bool{}
	for len(order) < len(names) {
		next := slices.IndexFunc(names, func(n string) bool {
			return !done[n] && !slices.ContainsFunc(deps[n], func(d string) bool { return !done[d] })
		})
		if next < 0 {
			var cycle []string
			for _, n := range names {
				if !done[n] {
					cycle = append(cycle, n)
				}
			}
			for _, n := range cycle {
				problems[n] = append(problems[n], Unsupported{Service: n, Key: "depends_on",
					Reason: "dependency cycle among " + strings.Join(cycle, ", ")})
			}
			break
		}
		done[names[next]] = true
		order = append(order, names[next])
	}
	return order, problems
}

// waits returns what to wait for before creating s: each dependency of
// the model, by name.
func (c *converter) waits(s types.ServiceConfig) []Wait {
	var out []Wait
	for _, dep := range slices.Sorted(maps.Keys(s.DependsOn)) {
		if _, ok := c.project.Services[dep]; !ok {
			continue
		}
		d := s.DependsOn[dep]
		cond := Running
		if d.Condition == types.ServiceConditionHealthy {
			cond = Healthy
		}
		out = append(out, Wait{Service: dep, SwarmService: c.swarmName(dep), Condition: cond, Restart: d.Restart})
	}
	return out
}
