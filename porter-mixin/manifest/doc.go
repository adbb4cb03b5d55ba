// Package manifest reads Porter's porter.yaml and renders Porter's step
// templates (docs/porter-compat.md §1, §2).
//
// [Parse] accepts schemaVersion 1.0.0-alpha.1, 1.0.0 and 1.0.1 and every
// section of those versions except dependencies, and reports all problems
// at once as findings with line and field; [Lint] returns the same findings
// without failing. [Template] is a mustache engine configured as Porter
// configures github.com/cbroglie/mustache: ${ } delimiters (or {{ }} for
// 1.0.0-alpha.1), no HTML escaping, a missing variable is an error.
// [BuildInput] and [MixinLintFindings] speak Porter's mixin lint protocol.
//
// The package is shared by the in-image bundle runtime, the bundle builder
// and the catalog, so it imports only the standard library and YAML: never
// orchestrator, web or Porter's own packages.
package manifest
