// Package dockerpolicy is what a bundle may do on the Docker host, as one
// table of named rules (Rules) and the checks that apply them. A bundle is
// someone else's code, so what it may do is enforced outside it: the
// socket subpackage serves each run a Docker API socket of its own that
// applies these checks to every call, and the same checks lint a bundle's
// compose files before anything runs (CheckProject), so an author sees
// every violation at once.
//
// A run may create and touch containers, networks and volumes named
// websoft9-<installation> (labelled sh.websoft9.app=<installation>), pull
// the images its bundle lists, and publish the host ports StackHub
// reserved for it. Container settings that reach the host (privileged,
// host namespaces, capabilities beyond Docker's defaults, devices,
// unconfining security options, host sysctls, bind mounts, the Docker
// socket, another installation's objects) are refused unless the operator
// granted them (Policy.Granted).
//
// On a Swarm, the policed socket talks to the manager, and a run of an
// installation placed on a node (Policy.Node) may also create, update and
// remove its own services, whose specs are checked by the same rules
// (CheckService) plus placement: one task, on that node only; its own
// overlay network; host-mode ports reserved for it on that node; and its
// own Swarm configs (CheckConfig), which its services read as files. The
// rest of the Swarm API (init, join, leave, update, secrets, config
// updates, plugins) is refused.
//
// The package does no I/O: who owns an existing object is asked of an
// Owners.
package dockerpolicy
