// Package orchestrator is StackHub's domain: the vocabulary (App,
// Installation, Run, PortBinding, Plan), the one error type and its codes,
// the interfaces the engine consumes (Catalog, Builder, Runner, Host and the
// stores split by aggregate), and the Engine use cases with the job manager
// that runs installs beyond the request that started them.
//
// It imports the standard library, the leaf packages (portalloc,
// porter-mixin/naming) and cnab-go's bundle package (spec vocabulary, no
// I/O). Never web, Echo, the Docker client or cnab-go's driver and action
// packages: adapters in the sub-packages implement the interfaces.
package orchestrator
