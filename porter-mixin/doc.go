// Package portermixin is the websoft9 Porter mixin: the client verbs
// (version, schema, build, lint) and the runtime verbs (install, upgrade,
// uninstall, invoke) that bring an app up as a compose project through the
// docker/compose v5 SDK.
//
// It implements Porter's mixin protocol by format (porter-compat.md §5) and
// imports no Porter package, and nothing from orchestrator or web: it runs
// inside bundle invocation images.
package portermixin
