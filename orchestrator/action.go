package orchestrator

import (
	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// Action is the CNAB action a run performs: one of the three StackHub
// drives itself, or a custom action a bundle declares (start, stop,
// restart, backup, …), whose name follows the rules of app names.
type Action string

// The actions with a use case of their own.
const (
	ActionInstall   Action = "install"
	ActionUpgrade   Action = "upgrade"
	ActionUninstall Action = "uninstall"
)

// ParseAction returns s as an Action: install, upgrade, uninstall, or a
// well-formed custom action name (whether an app's bundle has that action
// is for the engine to say). Returns EINVALID for anything else.
func ParseAction(s string) (Action, error) {
	switch a := Action(s); a {
	case ActionInstall, ActionUpgrade, ActionUninstall:
		return a, nil
	}
	if err := naming.ValidateApp(s); err != nil {
		return "", WrapError(EINVALID, err, "action: %s", err.Error())
	}
	return Action(s), nil
}

// Custom tells whether a is a bundle's custom action rather than install,
// upgrade or uninstall.
func (a Action) Custom() bool {
	return a != ActionInstall && a != ActionUpgrade && a != ActionUninstall && a != ActionSnapshot && a != ActionRestore
}
