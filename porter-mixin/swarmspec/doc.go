// Package swarmspec turns an app's compose model into what the websoft9
// mixin creates on a Docker Swarm: one overlay network per compose
// network, the named volumes, and one swarm.ServiceSpec per compose
// service, placed on one node. Convert is the whole API: a pure function
// of a loaded compose-go *types.Project and Options, tested rule by rule;
// the docker/cli stack loader is not used (and not copied).
//
// It imports only compose-go's types, moby's API types and
// porter-mixin/naming: no client, no I/O, nothing of the engine
// (orchestrator, web). It runs inside bundle images, in the mixin.
//
// # What an app becomes
//
//   - Networks: each compose network (one, <project>_default, when the file
//     declares none) is an overlay network of the same name as compose's,
//     attachable (so StackHub's gateway and tools can join it) and labelled
//     sh.websoft9.app, com.docker.stack.namespace=<project> and the run.
//   - Volumes: each named volume is a local volume named as compose names
//     it (<project>_<key>), labelled with the app. Swarm has no
//     cluster-wide local volumes: the node's engine creates the volume
//     when the service's task first mounts it, with the mount's driver and
//     labels, and keeps it. The placement constraint keeps the task, and so
//     its data, on one node; moving an app is a backup and a restore.
//   - Services: websoft9-<app> (the main service) and
//     websoft9-<app>-<service>, as the single-host container names, mode
//     replicated with 1 replica, constraint node.id==<id> (or
//     node.hostname==<name>), stop-first updates and rollbacks. A task's
//     container cannot have the service's name (Swarm names it
//     <service>.<slot>.<task id>): find it by the labels
//     sh.websoft9.app and sh.websoft9.service, or
//     com.docker.swarm.service.name. The task's hostname is the service
//     name unless hostname says otherwise; the compose service name is a
//     network alias, so services still reach each other as db, redis…
//   - Configs: each compose config an enabled service reads is a Swarm
//     config (Plan.Configs) named <project>_<key>-<12 hex digits of the
//     SHA-256 of its content> (ConfigName): the project keeps two apps
//     apart, the hash an upgrade's new content from the old (Swarm configs
//     are immutable), labelled with the app. Its content is compose's
//     content, or the variable its environment names; a file must have
//     been read into content (the mixin does it for the bundle's files),
//     since the node has no such file. A service's entry is a file
//     reference at its target (/<source> by default, a relative one under
//     /), uid and gid (0 by default), mode (0444 by default); its ConfigID
//     is set by the mixin once the config exists (Plan.SetConfigIDs).
//     external, driver, driver_opts and template_driver are refused.
//   - Labels: sh.websoft9.app, sh.websoft9.service and
//     com.docker.stack.namespace on the service and its containers (the
//     compose file's labels on the containers, deploy.labels on the
//     service); sh.websoft9.run on the service and the networks only,
//     never on the container spec or a volume mount, which are part of
//     the task spec: a run id there would restart every task on every
//     upgrade. compose's own com.docker.compose.* labels are not copied,
//     so compose never mistakes a task for one of its containers.
//
// # Decisions
//
// Host addresses. Swarm publishes a host-mode port on every address of the
// node and cannot bind one. A port without an address, or on 0.0.0.0 or
// ::, is published as it is. A port on a loopback address
// (127.0.0.1:3307:3306, every catalog database; or ${WEB_ADDRESS} set to
// 127.0.0.1 while StackHub's gateway serves the app) is refused by default
// (RefuseLoopbackPorts, the zero value), or left unpublished and listed in
// Plan.Unpublished with OmitLoopbackPorts: publishing it on every address
// would expose what the bundle keeps private, and the port stays reachable
// at <service>:<target> on the app's attachable network. A port on any
// other address is refused.
//
// depends_on. Swarm starts a stack's services in no order. Plan.Services
// is in dependency order and each Service's Waits name its dependencies
// with the condition to wait for (running for service_started, healthy
// for service_healthy); the mixin creates the services one by one and
// waits before each. service_completed_successfully is refused: a one-shot
// service would be a Swarm job, which StackHub does not create.
//
// Restart. no (compose's default) is condition none; always and
// unless-stopped are any; on-failure[:N] is on-failure with at most N
// attempts; deploy.restart_policy, when given, wins as it does for compose.
// Swarm has no "unless stopped": stopping an app scales it to 0 replicas.
//
// Profiles. The model is converted as compose-go loaded it: services its
// profiles disabled are not deployed (compose does not start them either);
// a service that requires a disabled one is refused.
//
// Ignored keys. expose (every port of a task is reachable on its
// network), attach, develop and ports' app_protocol change nothing at run
// time under compose either; a port's mode is always host; extends,
// env_file and label_file are already merged into the model by the loader.
//
// # Refused keys and API versions
//
// Every other key a Swarm service cannot honour is an Unsupported, and
// Convert reports all of them at once in an *UnsupportedError: build,
// network_mode, privileged, devices, pid/ipc/uts/userns/cgroup modes,
// links, external_links, volumes_from, container_name other than
// StackHub's, secrets, security_opt, shm_size, cgroup_parent,
// mac_address and addresses, port ranges, host bind mounts (unless
// Options.AllowBindMounts), anonymous volumes, external networks and
// volumes, non-local volume drivers, replicas other than 1, placement,
// update_config and more; rules.go gives each one's reason. A compose key
// the tables do not know is refused too, so a compose-go upgrade cannot
// slip a new key through.
//
// The specs use only what Docker Engine API 1.41 (Docker 20.10, what
// StackHub negotiates) knows; an engine drops newer fields silently.
// Used, by the version that brought them to services: Init 1.38
// (first in the API reference), Sysctls 1.40, CapabilityAdd,
// CapabilityDrop, Ulimits, Limits.Pids and BindOptions.NonRecursive 1.41.
// Refused for needing later ones: healthcheck start_interval and the
// seccomp, AppArmor and no-new-privileges options of security_opt 1.44,
// volume subpath 1.45, tmpfs options other than size and mode 1.46,
// oom_score_adj 1.46, enable_ipv4 1.47, image mounts 1.48, memswap_limit
// and mem_swappiness 1.52.
package swarmspec
