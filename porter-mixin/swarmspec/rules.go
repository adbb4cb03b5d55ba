package swarmspec

import (
	"reflect"
	"strings"
)

// handled marks, in a rules table, a key the converter reads and checks
// itself; any other value is the reason the key is refused when set.
const handled = ""

// A rules table says, for every field of one compose-go struct (by its
// YAML key), whether the converter handles it or why it is refused. The
// tables cover every field: TestRulesCoverEveryField fails when compose-go
// gains one, and refusals refuses a set field it does not know, so a new
// compose key is an error until someone decides what it means on Swarm.

// serviceRules covers types.ServiceConfig.
var serviceRules = map[string]string{
	// Converted; see convertService.
	"cap_add": handled, "cap_drop": handled, "command": handled, "configs": handled, "container_name": handled,
	"cpus": handled, "depends_on": handled, "deploy": handled, "dns": handled, "dns_opt": handled,
	"dns_search": handled, "entrypoint": handled, "environment": handled, "extra_hosts": handled,
	"group_add": handled, "healthcheck": handled, "hostname": handled, "image": handled, "init": handled,
	"labels": handled, "logging": handled, "mem_limit": handled, "mem_reservation": handled,
	"networks": handled, "pids_limit": handled, "ports": handled, "pull_policy": handled,
	"read_only": handled, "restart": handled, "scale": handled, "stdin_open": handled,
	"stop_grace_period": handled, "stop_signal": handled, "sysctls": handled, "tmpfs": handled,
	"tty": handled, "ulimits": handled, "user": handled, "volumes": handled, "working_dir": handled,

	// Read by compose-go's loader and already applied to the model: the
	// name is the map key, profiles chose the enabled services, extends,
	// env_file and label_file were merged into the service.
	"name": handled, "profiles": handled, "extends": handled, "env_file": handled, "label_file": handled,
	// No effect at run time under compose either: attach is for compose's
	// log output, develop for compose watch, expose only documents ports
	// (every port of a task is reachable on its overlay network).
	"attach": handled, "develop": handled, "expose": handled,

	// Refused.
	"annotations":         "container annotations are not part of a Swarm container spec",
	"build":               "Swarm runs images only: build and push the image, then name it in image",
	"blkio_config":        "Swarm services have no block IO weights or limits",
	"cgroup_parent":       "Swarm services cannot choose their cgroup parent",
	"cgroup":              "Swarm services cannot choose their cgroup namespace",
	"cpu_count":           "Swarm services take CPU limits as cpus only",
	"cpu_percent":         "Swarm services take CPU limits as cpus only",
	"cpu_period":          "Swarm services take CPU limits as cpus only",
	"cpu_quota":           "Swarm services take CPU limits as cpus only",
	"cpu_rt_period":       "Swarm services have no real-time CPU scheduling",
	"cpu_rt_runtime":      "Swarm services have no real-time CPU scheduling",
	"cpuset":              "Swarm services cannot pin CPUs",
	"cpu_shares":          "Swarm services take CPU limits as cpus only",
	"credential_spec":     "credential specs are for Windows containers",
	"device_cgroup_rules": "Swarm services have no device access",
	"devices":             "Swarm services have no device access",
	"dockerfile":          "Swarm runs images only",
	"domainname":          "a Swarm container spec has no domain name",
	"provider":            "provider services are run by compose itself, not by the engine",
	"external_links":      "Swarm services reach only the services of their own networks",
	"gpus":                "Swarm services cannot request GPUs as devices",
	"ipc":                 "Swarm services cannot share an IPC namespace",
	"isolation":           "isolation is for Windows containers",
	"links":               "Swarm has no links: services find each other by service name on the app's network",
	"log_driver":          "write logging.driver",
	"log_opt":             "write logging.options",
	"memswap_limit":       "swap limits need Docker API 1.52; StackHub negotiates 1.41",
	"mem_swappiness":      "swappiness needs Docker API 1.52; StackHub negotiates 1.41",
	"mac_address":         "a Swarm task's MAC address is chosen by the overlay network",
	"models":              "AI models are a compose feature the engine does not run",
	"net":                 "Swarm tasks are attached to the app's overlay network only",
	"network_mode":        "Swarm tasks are attached to the app's overlay network only (no host, none, container: or service: network modes)",
	"oom_kill_disable":    "Swarm services cannot disable the OOM killer",
	"oom_score_adj":       "an OOM score for services needs Docker API 1.46; StackHub negotiates 1.41",
	"pid":                 "Swarm services cannot share a PID namespace",
	"platform":            "StackHub chooses the node; Swarm pulls the image for that node's platform",
	"privileged":          "Swarm services cannot run privileged containers",
	"runtime":             "Swarm services run with the engine's default runtime",
	"secrets":             "compose secrets would be Swarm secrets, which StackHub does not create; pass the value through environment",
	"security_opt":        "seccomp, AppArmor and no-new-privileges options for services need Docker API 1.44 (SELinux labels are not taken either); StackHub negotiates 1.41",
	"shm_size":            "a Swarm container spec has no /dev/shm size; mount a tmpfs at /dev/shm instead",
	"storage_opt":         "Swarm services have no storage driver options",
	"use_api_socket":      "Swarm services cannot be given the engine's API socket",
	"userns_mode":         "Swarm services cannot choose their user namespace",
	"uts":                 "Swarm services cannot share the host's UTS namespace",
	"volume_driver":       "name the driver on the volume (StackHub creates local volumes only)",
	"volumes_from":        "Swarm services cannot mount another container's volumes; mount the named volume in both services",
	"pre_start":           "Swarm services have no lifecycle hooks",
	"post_start":          "Swarm services have no lifecycle hooks",
	"pre_stop":            "Swarm services have no lifecycle hooks",
}

// deployRules covers types.DeployConfig.
var deployRules = map[string]string{
	"mode": handled, "replicas": handled, "labels": handled, "resources": handled,
	"restart_policy": handled, "endpoint_mode": handled,
	"update_config":   "StackHub updates one task at a time, stopping the old one first (its volumes and host ports are on one node)",
	"rollback_config": "StackHub rolls back one task at a time, stopping the old one first (its volumes and host ports are on one node)",
	"placement":       "StackHub places every service of an app on the app's node",
}

// resourcesRules covers types.Resources (deploy.resources).
var resourcesRules = map[string]string{"limits": handled, "reservations": handled}

// loggingRules covers types.LoggingConfig.
var loggingRules = map[string]string{"driver": handled, "options": handled}

// limitRules covers types.Resource under deploy.resources.limits.
var limitRules = map[string]string{
	"cpus": handled, "memory": handled, "pids": handled,
	"devices":           "Swarm services have no device access",
	"generic_resources": "generic resources are reservations, not limits",
}

// reservationRules covers types.Resource under deploy.resources.reservations.
var reservationRules = map[string]string{
	"cpus": handled, "memory": handled,
	"pids":              "Swarm reserves CPU and memory only",
	"devices":           "Swarm services have no device access",
	"generic_resources": "StackHub does not advertise generic resources on nodes",
}

// restartPolicyRules covers types.RestartPolicy.
var restartPolicyRules = map[string]string{
	"condition": handled, "delay": handled, "max_attempts": handled, "window": handled,
}

// healthRules covers types.HealthCheckConfig.
var healthRules = map[string]string{
	"test": handled, "timeout": handled, "interval": handled, "retries": handled,
	"start_period": handled, "disable": handled,
	"start_interval": "a start interval needs Docker API 1.44; StackHub negotiates 1.41 (use a short interval)",
}

// dependencyRules covers types.ServiceDependency.
var dependencyRules = map[string]string{"condition": handled, "restart": handled, "required": handled}

// portRules covers types.ServicePortConfig.
var portRules = map[string]string{
	"name": handled, "host_ip": handled, "target": handled, "published": handled, "protocol": handled,
	// Every port is published in host mode on the app's node: ingress (the
	// routing mesh) would publish it on every node of the Swarm.
	"mode": handled,
	// A hint for tools; compose does nothing with it at run time either.
	"app_protocol": handled,
}

// mountRules covers types.ServiceVolumeConfig.
var mountRules = map[string]string{
	"type": handled, "source": handled, "target": handled, "read_only": handled, "consistency": handled,
	"bind": handled, "volume": handled, "tmpfs": handled,
	"image": "image mounts came with Docker API 1.48, for containers only; StackHub negotiates 1.41",
}

// bindRules covers types.ServiceVolumeBind.
var bindRules = map[string]string{
	"propagation": handled, "recursive": handled,
	// Swarm never creates a bind source: the path must exist on the node
	// (the task is rejected otherwise), whatever create_host_path says.
	"create_host_path": handled,
	"selinux":          "Swarm services cannot relabel a bind mount for SELinux",
}

// volumeMountRules covers types.ServiceVolumeVolume.
var volumeMountRules = map[string]string{
	"labels": handled, "nocopy": handled,
	"subpath": "volume subpaths need Docker API 1.45; StackHub negotiates 1.41",
}

// tmpfsRules covers types.ServiceVolumeTmpfs.
var tmpfsRules = map[string]string{"size": handled, "mode": handled}

// attachmentRules covers types.ServiceNetworkConfig.
var attachmentRules = map[string]string{
	"aliases":        handled,
	"driver_opts":    "Swarm services take no per-network driver options from StackHub",
	"gw_priority":    "Swarm chooses a task's gateway network itself",
	"priority":       "Swarm orders a task's networks itself",
	"interface_name": "Swarm names a task's interfaces itself",
	"ipv4_address":   "a Swarm task's address is chosen by the overlay network",
	"ipv6_address":   "a Swarm task's address is chosen by the overlay network",
	"link_local_ips": "a Swarm task's addresses are chosen by the overlay network",
	"mac_address":    "a Swarm task's MAC address is chosen by the overlay network",
}

// networkRules covers types.NetworkConfig (the project's networks).
var networkRules = map[string]string{
	"name": handled, "driver": handled, "internal": handled, "labels": handled,
	// Every network StackHub creates on a Swarm is attachable.
	"attachable":  handled,
	"driver_opts": "StackHub creates overlay networks with the driver's defaults",
	"ipam":        "overlay subnets come from the Swarm's address pool; a fixed one could collide with another app's",
	"external":    "an app's services are attached only to networks of its own",
	"enable_ipv4": "enable_ipv4 needs Docker API 1.47; StackHub negotiates 1.41",
	"enable_ipv6": "StackHub creates IPv4 overlay networks only",
}

// volumeRules covers types.VolumeConfig (the project's volumes).
var volumeRules = map[string]string{
	"name": handled, "driver": handled, "labels": handled,
	"driver_opts": "StackHub creates plain local volumes (driver options can turn one into a bind mount of a node path)",
	"external":    "an app mounts only volumes of its own",
}

// configRules covers types.ConfigObjConfig (the project's configs a
// service reads; configs.go).
var configRules = map[string]string{
	// The content, given, read from the bundle's file by the mixin, or
	// from a variable; a file left unread is refused in code.
	"name": handled, "file": handled, "environment": handled, "content": handled, "labels": handled,
	"external":        "an app reads only configs of its own, which StackHub creates from their content",
	"driver":          "StackHub creates configs from their content, not from a secrets store's driver",
	"driver_opts":     "StackHub creates configs from their content, not from a secrets store's driver",
	"template_driver": "StackHub creates plain configs: a template would be filled in on the node, with the task's values",
}

// serviceConfigRules covers types.ServiceConfigObjConfig (a service's
// configs entry).
var serviceConfigRules = map[string]string{
	"source": handled, "target": handled, "uid": handled, "gid": handled, "mode": handled,
}

// refusals returns an Unsupported for each set field of the struct v
// (a struct or a pointer to one) that rules refuses or does not know.
// Keys are reported as prefix+key. Unexported fields, compose-go's
// extensions (x-* keys, ignored as compose ignores them) and fields with
// no YAML key (CustomLabels: StackHub sets its labels itself) are skipped.
func refusals(v any, service, prefix string, rules map[string]string) []Unsupported {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil
		}
		rv = rv.Elem()
	}
	var out []Unsupported
	rt := rv.Type()
	for i := range rt.NumField() {
		f := rt.Field(i)
		key, ok := yamlKey(f)
		if !ok || !isSet(rv.Field(i)) {
			continue
		}
		reason, known := rules[key]
		switch {
		case !known:
			out = append(out, Unsupported{Service: service, Key: prefix + key,
				Reason: "the Swarm conversion does not know this key yet"})
		case reason != handled:
			out = append(out, Unsupported{Service: service, Key: prefix + key, Reason: reason})
		}
	}
	return out
}

// yamlKey returns the compose key of a struct field, or false for a
// field that is no compose key.
func yamlKey(f reflect.StructField) (string, bool) {
	if !f.IsExported() {
		return "", false
	}
	key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if key == "" || key == "-" || strings.HasPrefix(key, "#") {
		return "", false
	}
	return key, true
}

// isSet tells whether a field holds a value: a non-empty list or map, a
// non-nil pointer, anything else but its zero value. An empty list is
// unset: it asks for nothing.
func isSet(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Slice, reflect.Map:
		return v.Len() > 0
	case reflect.Pointer, reflect.Interface:
		return !v.IsNil()
	}
	return !v.IsZero()
}
