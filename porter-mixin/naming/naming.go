// Package naming is the one home of the names StackHub gives Docker objects:
// the compose project websoft9-<app>, the containers websoft9-<app> (main
// service) and websoft9-<app>-<service> (the others), and the label keys put on
// everything an install creates.
//
// It imports nothing but the standard library, so the mixin inside bundle
// images, the engine and the tests all agree on one spelling.
package naming

import (
	"fmt"
	"regexp"
)

const (
	// Prefix starts every project and container name StackHub owns.
	Prefix = "websoft9-"
	// LabelApp carries the app (installation) name on containers, networks and volumes.
	LabelApp = "sh.websoft9.app"
	// LabelRun carries the id of the run that created an object.
	LabelRun = "sh.websoft9.run"
	// LabelService carries the compose service name of a container.
	LabelService = "sh.websoft9.service"
	// LabelInvocation marks a CNAB invocation container with the
	// installation it acts on (never LabelApp, which marks the app's own).
	LabelInvocation = "sh.websoft9.invocation"
	// EnvSwarmNode is the variable StackHub sets in an invocation
	// container whose installation is placed on a Swarm node: the node's
	// ID. The websoft9 mixin then deploys the app as Swarm services on
	// that node; without it (or under Porter) it uses compose on the
	// engine it is given.
	EnvSwarmNode = "STACKHUB_SWARM_NODE"
)

var appNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// ValidateApp reports why name cannot be an app (installation) name, or nil.
// A valid name matches ^[a-z0-9][a-z0-9-]{0,62}$.
func ValidateApp(name string) error {
	if name == "" {
		return fmt.Errorf("app name is empty")
	}
	if !appNameRE.MatchString(name) {
		return fmt.Errorf("app name %q must match ^[a-z0-9][a-z0-9-]{0,62}$ (lowercase letters, digits and '-', 1 to 63 characters, not starting with '-')", name)
	}
	return nil
}

// Project returns the compose project name of app.
func Project(app string) string { return Prefix + app }

// MainContainer returns the container name of app's main service.
func MainContainer(app string) string { return Prefix + app }

// Container returns the container name of service in app; main tells whether
// the service is the app's main one.
func Container(app, service string, main bool) string {
	if main {
		return MainContainer(app)
	}
	return Prefix + app + "-" + service
}
