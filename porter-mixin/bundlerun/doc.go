// Package bundlerun is the in-image bundle runtime, /cnab/app/run: it reads
// /cnab/app/porter.yaml, renders each step of the current CNAB action with
// Porter's ${ } templates, pipes the step to its mixin runtime on stdin, and
// turns step outputs into CNAB outputs under /cnab/app/outputs. It does for
// StackHub's images what porter-runtime does in Porter's (porter-compat.md §4.1).
//
// It imports the standard library, YAML and porter-mixin/manifest only:
// never orchestrator, web or Porter's packages.
package bundlerun
