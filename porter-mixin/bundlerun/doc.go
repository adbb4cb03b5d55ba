// Package bundlerun is the in-image bundle runtime, /cnab/app/run: what
// porter-runtime does in Porter's images, StackHub's images do with it
// (porter-compat.md §4.1). For the action in CNAB_ACTION it
//
//   - reads /cnab/app/porter.yaml and /cnab/bundle.json (and the relocation
//     mapping when the bundle was relocated);
//   - decodes base64 file parameters in place and unpacks the previous
//     porter-state into the declared state paths;
//   - renders each step with Porter's templates (installation, bundle
//     parameters, credentials, outputs, images, installerImage, custom,
//     env, earlier step outputs) and pipes it to its mixin runtime on
//     stdin, masking secrets in the mixin's output;
//   - turns step outputs into CNAB outputs under /cnab/app/outputs;
//   - always finalizes, after a failure or SIGTERM too: outputs with a
//     manifest path are copied and the porter-state output is written.
//
// It imports the standard library, YAML and porter-mixin/manifest only:
// never orchestrator, web or Porter's packages.
package bundlerun
