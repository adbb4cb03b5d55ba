// Package build is StackHub's bundle builder: it turns a bundle directory
// (porter.yaml plus the files the steps use) into what `porter build` makes,
// without Porter, a Dockerfile or a base image.
//
//   - [Bundle] maps a parsed porter.yaml to the CNAB bundle.json Porter
//     generates (getporter/porter pkg/cnab/config-adapter), Porter's internal
//     parameters, outputs and custom extensions included. It is pure.
//   - [Build] parses Dir/porter.yaml, generates bundle.json, assembles the
//     invocation image FROM scratch with go-containerregistry and writes
//     Dir/.cnab/bundle.json. Same input, same image digest.
//   - [Load] puts the image into the local Docker engine under exactly
//     invocationImages[0].image, skipping the load when it is already there.
//   - [Lint] checks a bundle directory as `porter lint` does, reporting
//     every problem of porter.yaml, bundle.json generation, the bundle files
//     and, through [MixinLinter] hooks such as [ProgramLinter], the mixins.
//
// The invocation image (docs/porter-compat.md §4.2) holds, as root-owned
// files with Porter's group-equals-user permissions unless noted:
//
//	/cnab/app/run                                             bundle runtime, 0755
//	/cnab/app/mixins/websoft9/runtimes/websoft9-runtime      mixin runtime, 0755
//	/cnab/app/porter.yaml                                     the manifest as read
//	/cnab/app/<bundle files>                                  Dir minus porter.yaml, .cnab/ and .dockerignore matches
//	/cnab/bundle.json                                         canonical bundle.json
//	/cnab/app/outputs, /cnab/app/porter/outputs               65532:0, 0775
//	/home/nonroot (65532:0), /tmp (1777), /etc/passwd, /etc/group
//
// with config linux/amd64, User "65532:0", WorkingDir /cnab/app and Cmd
// ["/cnab/app/run"]. Every tar header has a fixed mtime and the entries are
// sorted, so rebuilding unchanged input gives the same digest.
//
// build is an adapter: it imports the manifest parser, cnab-go's bundle
// package, go-containerregistry and the moby client's types (for the two
// calls [Load] makes). It never imports web, the other adapters, cnab-go's
// driver or action packages, or Porter's own packages (deps_test.go).
package build
