package portermixin

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// InvokeActions are the custom actions the mixin implements.
var InvokeActions = []string{"start", "stop", "restart"}

// Invoke runs the custom action on the project of the step read from m.In
// ({<action>: [{websoft9: {...}}]}): start starts stopped containers and
// waits for health up to the step's wait, stop stops them, restart
// restarts them; start (the step field) limits each to some services. The
// step needs app; compose or inline services are used when given,
// otherwise compose works from the project's containers. Any other action
// fails with "websoft9 does not implement action <action>" before stdin is
// read.
func (m *Mixin) Invoke(ctx context.Context, action string) error {
	if action == "" {
		return fmt.Errorf("invoke: --action is required (one of %s)", strings.Join(InvokeActions, ", "))
	}
	if !slices.Contains(InvokeActions, action) {
		return fmt.Errorf("%s does not implement action %s (it implements %s)", Name, action, strings.Join(InvokeActions, ", "))
	}
	in, err := readStep(m.In, action)
	if err != nil {
		return err
	}
	return m.run(in, func() error {
		p, err := in.Step.plan(action, m.WorkDir, m.Getenv)
		if err != nil {
			return err
		}
		do := map[string]func(context.Context, Plan) error{
			"start": m.Compose.Start, "stop": m.Compose.Stop, "restart": m.Compose.Restart,
		}[action]
		m.logf("%s project %s", action, p.Project)
		if err := do(ctx, p); err != nil {
			return fmt.Errorf("%s %s: %w", action, p.Project, err)
		}
		return m.writeOutputs(ctx, in, p)
	})
}
