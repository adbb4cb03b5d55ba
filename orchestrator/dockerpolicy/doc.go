// Package dockerpolicy serves each CNAB run a Docker API socket of its own
// and decides, call by call, what the run may do on the host: a bundle is
// someone else's code, so what it may do is enforced outside it, by the
// only door it has to Docker.
//
// A run may create and touch containers, networks and volumes named
// websoft9-<installation> (the policy labels them sh.websoft9.app=
// <installation> and lists only those back), pull the images its bundle
// lists, and publish the host ports StackHub reserved for it. Everything
// else is refused with a 403 that names the rule (Rules), and every
// refusal is handed to an audit function. Container settings that reach
// the host (privileged, host namespaces, capabilities beyond Docker's
// defaults, devices, unconfining security options, host sysctls, bind
// mounts, the Docker socket, another installation's objects) are refused
// unless the operator granted them (Policy.Granted).
//
// The same checks (CheckContainer, CheckNetwork, CheckVolume, CheckPull)
// serve a lint of compose files before anything runs.
package dockerpolicy
