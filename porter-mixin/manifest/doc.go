// Package manifest reads Porter's porter.yaml and renders Porter's ${ } step
// templates. It is shared by the in-image bundle runtime, the bundle builder
// and the catalog, so it imports only the standard library and YAML: never
// orchestrator, web or Porter's own packages.
package manifest
