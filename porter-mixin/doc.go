// Package portermixin is the websoft9 Porter mixin: the client verbs
// (version, schema, build, lint) and the runtime verbs (install, upgrade,
// uninstall, invoke start|stop|restart) that run an app as the compose
// project websoft9-<app> through the docker/compose v5 SDK. One file per
// verb; cmd/websoft9 parses argv and calls one method of *Mixin.
//
// It implements Porter's mixin protocol by format (porter-compat.md §5) and
// imports no Porter package, and nothing from orchestrator or web: it runs
// inside bundle invocation images. The step it reads is Step, described by
// schema/schema.json and README.md. The runtime verbs report progress as
// event lines whose format (package porter-mixin/events) uses the standard library only, so
// readers need nothing else of this package.
package portermixin
