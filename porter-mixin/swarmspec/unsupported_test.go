package swarmspec

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ruleTables are the rules tables by name, with the compose-go struct
// each covers.
var ruleTables = []struct {
	name  string
	typ   reflect.Type
	rules map[string]string
}{
	{"service", reflect.TypeFor[types.ServiceConfig](), serviceRules},
	{"deploy", reflect.TypeFor[types.DeployConfig](), deployRules},
	{"resources", reflect.TypeFor[types.Resources](), resourcesRules},
	{"limits", reflect.TypeFor[types.Resource](), limitRules},
	{"reservations", reflect.TypeFor[types.Resource](), reservationRules},
	{"restart_policy", reflect.TypeFor[types.RestartPolicy](), restartPolicyRules},
	{"healthcheck", reflect.TypeFor[types.HealthCheckConfig](), healthRules},
	{"logging", reflect.TypeFor[types.LoggingConfig](), loggingRules},
	{"depends_on", reflect.TypeFor[types.ServiceDependency](), dependencyRules},
	{"port", reflect.TypeFor[types.ServicePortConfig](), portRules},
	{"mount", reflect.TypeFor[types.ServiceVolumeConfig](), mountRules},
	{"bind", reflect.TypeFor[types.ServiceVolumeBind](), bindRules},
	{"volume_mount", reflect.TypeFor[types.ServiceVolumeVolume](), volumeMountRules},
	{"tmpfs", reflect.TypeFor[types.ServiceVolumeTmpfs](), tmpfsRules},
	{"attachment", reflect.TypeFor[types.ServiceNetworkConfig](), attachmentRules},
	{"network", reflect.TypeFor[types.NetworkConfig](), networkRules},
	{"volume", reflect.TypeFor[types.VolumeConfig](), volumeRules},
	{"config", reflect.TypeFor[types.ConfigObjConfig](), configRules},
	{"service_config", reflect.TypeFor[types.ServiceConfigObjConfig](), serviceConfigRules},
}

// TestRulesCoverEveryField fails when compose-go gains a key (decide what
// it means on Swarm and add it to its table) or a table names a key
// compose-go does not have.
func TestRulesCoverEveryField(t *testing.T) {
	for _, tbl := range ruleTables {
		t.Run(tbl.name, func(t *testing.T) {
			keys := map[string]bool{}
			for i := range tbl.typ.NumField() {
				key, ok := yamlKey(tbl.typ.Field(i))
				if !ok {
					continue
				}
				keys[key] = true
				_, known := tbl.rules[key]
				assert.True(t, known, "%s: key %s (field %s) has no rule", tbl.typ, key, tbl.typ.Field(i).Name)
			}
			for key := range tbl.rules {
				assert.True(t, keys[key], "%s has no key %s", tbl.typ, key)
			}
		})
	}
}

// TestRefusals_UnknownKey: a set key the table does not know is refused,
// so a new compose key is an error until it has a rule.
func TestRefusals_UnknownKey(t *testing.T) {
	type future struct {
		Known   string `yaml:"known"`
		Novel   string `yaml:"novel,omitempty"`
		Unset   string `yaml:"unset"`
		Ext     map[string]any
		Custom  map[string]string `yaml:"-"`
		Inlined map[string]any    `yaml:"#extensions,inline"`
	}
	got := refusals(future{Known: "a", Novel: "b", Ext: map[string]any{"x": 1}, Custom: map[string]string{"a": "b"}, Inlined: map[string]any{"x-a": 1}},
		"web", "deploy.", map[string]string{"known": handled, "unset": "no"})
	assert.Equal(t, []Unsupported{{Service: "web", Key: "deploy.novel", Reason: "the Swarm conversion does not know this key yet"}}, got)
}

// unsupportedCase sets one compose key Swarm cannot honour.
type unsupportedCase struct {
	// rule is "table:key" for a key refused by a rules table, empty for a
	// value the converter refuses in code.
	rule    string
	name    string
	compose string
	env     []string
	// mutate sets what compose-go's schema would not let a file say.
	mutate func(*types.Project)
	opts   func(*Options)
	want   Unsupported // Reason is checked not to be empty
	// others is how many more problems the case makes besides want.
	others int
}

func svc(s, key string) Unsupported { return Unsupported{Service: s, Key: key} }

func setWeb(f func(*types.ServiceConfig)) func(*types.Project) {
	return func(p *types.Project) {
		s := p.Services["web"]
		f(&s)
		p.Services["web"] = s
	}
}

func setConfig(key string, f func(*types.ConfigObjConfig)) func(*types.Project) {
	return func(p *types.Project) {
		c := p.Configs[key]
		f(&c)
		p.Configs[key] = c
	}
}

func unsupportedCases() []unsupportedCase {
	allowBinds := func(o *Options) { o.AllowBindMounts = true }
	withDB := "  db:\n    image: mariadb\n"
	return []unsupportedCase{
		{rule: "service:annotations", compose: web("annotations: {a: b}"), want: svc("web", "annotations")},
		{rule: "service:build", compose: web("build: ."), want: svc("web", "build")},
		{rule: "service:blkio_config", compose: web("blkio_config: {weight: 300}"), want: svc("web", "blkio_config")},
		{rule: "service:cgroup_parent", compose: web("cgroup_parent: m-executor"), want: svc("web", "cgroup_parent")},
		{rule: "service:cgroup", compose: web("cgroup: host"), want: svc("web", "cgroup")},
		{rule: "service:cpu_count", compose: web("cpu_count: 2"), want: svc("web", "cpu_count")},
		{rule: "service:cpu_percent", compose: web("cpu_percent: 50"), want: svc("web", "cpu_percent")},
		{rule: "service:cpu_period", compose: web("cpu_period: 100000"), want: svc("web", "cpu_period")},
		{rule: "service:cpu_quota", compose: web("cpu_quota: 50000"), want: svc("web", "cpu_quota")},
		{rule: "service:cpu_rt_period", compose: web("cpu_rt_period: 1000000"), want: svc("web", "cpu_rt_period")},
		{rule: "service:cpu_rt_runtime", compose: web("cpu_rt_runtime: 950000"), want: svc("web", "cpu_rt_runtime")},
		{rule: "service:cpuset", compose: web(`cpuset: "0,1"`), want: svc("web", "cpuset")},
		{rule: "service:cpu_shares", compose: web("cpu_shares: 512"), want: svc("web", "cpu_shares")},
		{rule: "config:external", compose: web("configs: [cfg]") + "configs:\n  cfg:\n    external: true\n", want: svc("", "configs.cfg.external")},
		{rule: "config:driver", compose: web("configs: [cfg]") + "configs:\n  cfg:\n    content: hello\n",
			mutate: setConfig("cfg", func(c *types.ConfigObjConfig) { c.Driver = "vault" }), want: svc("", "configs.cfg.driver")},
		{rule: "config:driver_opts", compose: web("configs: [cfg]") + "configs:\n  cfg:\n    content: hello\n",
			mutate: setConfig("cfg", func(c *types.ConfigObjConfig) { c.DriverOpts = map[string]string{"a": "b"} }), want: svc("", "configs.cfg.driver_opts")},
		{rule: "config:template_driver", compose: web("configs: [cfg]") + "configs:\n  cfg:\n    content: hello\n    template_driver: golang\n", want: svc("", "configs.cfg.template_driver")},
		{name: "config named otherwise", compose: web("configs: [cfg]") + "configs:\n  cfg:\n    content: hello\n    name: shared\n", want: svc("", "configs.cfg.name")},
		{name: "config from a variable not set", compose: web("configs: [cfg]") + "configs:\n  cfg:\n    environment: CFG_BODY\n", want: svc("", "configs.cfg")},
		{name: "config from a file not read into content", compose: web("configs: [cfg]") + "configs:\n  cfg:\n    file: ./cfg.txt\n", want: svc("", "configs.cfg")},
		{name: "config empty", compose: web("configs: [cfg]") + "configs:\n  cfg:\n    content: \"\"\n",
			mutate: setConfig("cfg", func(c *types.ConfigObjConfig) { c.Content = "" }), want: svc("", "configs.cfg")},
		{name: "config larger than Swarm takes", compose: web("configs: [cfg]") + "configs:\n  cfg:\n    content: hello\n",
			mutate: setConfig("cfg", func(c *types.ConfigObjConfig) { c.Content = strings.Repeat("x", MaxConfigSize+1) }), want: svc("", "configs.cfg")},
		{name: "config name too long for Swarm", compose: web("configs: [a-config-key-far-too-long-for-a-swarm-config-name]") +
			"configs:\n  a-config-key-far-too-long-for-a-swarm-config-name:\n    content: hello\n", want: svc("", "configs.a-config-key-far-too-long-for-a-swarm-config-name")},
		{name: "two configs at one target", compose: web("configs:\n  - {source: a, target: /etc/x}\n  - {source: b, target: /etc/y}") +
			"configs:\n  a:\n    content: a\n  b:\n    content: b\n",
			mutate: setWeb(func(s *types.ServiceConfig) { s.Configs[1].Target = "etc/x" }), want: svc("web", "configs[1].target")},
		{name: "config mode beyond permission bits", compose: web("configs:\n  - {source: cfg, mode: 04755}") + "configs:\n  cfg:\n    content: hello\n", want: svc("web", "configs[0].mode")},
		{rule: "service:credential_spec", compose: web("credential_spec: {file: spec.json}"), want: svc("web", "credential_spec")},
		{rule: "service:device_cgroup_rules", compose: web(`device_cgroup_rules: ["c 1:3 mr"]`), want: svc("web", "device_cgroup_rules")},
		{rule: "service:devices", compose: web(`devices: ["/dev/ttyUSB0:/dev/ttyUSB0"]`), want: svc("web", "devices")},
		{rule: "service:dockerfile", compose: web(""), mutate: setWeb(func(s *types.ServiceConfig) { s.Dockerfile = "Dockerfile" }), want: svc("web", "dockerfile")},
		{rule: "service:domainname", compose: web("domainname: example.org"), want: svc("web", "domainname")},
		{rule: "service:provider", compose: web(""), mutate: setWeb(func(s *types.ServiceConfig) { s.Provider = &types.ServiceProviderConfig{Type: "model"} }), want: svc("web", "provider")},
		{rule: "service:external_links", compose: web("external_links: [redis]"), want: svc("web", "external_links")},
		{rule: "service:gpus", compose: web("gpus: all"), want: svc("web", "gpus")},
		{rule: "service:ipc", compose: web("ipc: host"), want: svc("web", "ipc")},
		{rule: "service:isolation", compose: web("isolation: process"), want: svc("web", "isolation")},
		{rule: "service:links", compose: web("links: [db]") + withDB, want: svc("web", "links")},
		{rule: "service:log_driver", compose: web(""), mutate: setWeb(func(s *types.ServiceConfig) { s.LogDriver = "syslog" }), want: svc("web", "log_driver")},
		{rule: "service:log_opt", compose: web(""), mutate: setWeb(func(s *types.ServiceConfig) { s.LogOpt = map[string]string{"tag": "x"} }), want: svc("web", "log_opt")},
		{rule: "service:memswap_limit", compose: web("mem_limit: 512m\nmemswap_limit: 1g"), want: svc("web", "memswap_limit")},
		{rule: "service:mem_swappiness", compose: web("mem_swappiness: 10"), want: svc("web", "mem_swappiness")},
		{rule: "service:mac_address", compose: web("mac_address: 02:42:ac:11:65:43"), want: svc("web", "mac_address")},
		{rule: "service:models", compose: web(""), mutate: setWeb(func(s *types.ServiceConfig) { s.Models = map[string]*types.ServiceModelConfig{"m": nil} }), want: svc("web", "models")},
		{rule: "service:net", compose: web(""), mutate: setWeb(func(s *types.ServiceConfig) { s.Net = "host" }), want: svc("web", "net")},
		{rule: "service:network_mode", compose: web("network_mode: host"), want: svc("web", "network_mode")},
		{name: "network_mode service:", compose: web("network_mode: service:db") + withDB, want: svc("web", "network_mode")},
		{rule: "service:oom_kill_disable", compose: web("oom_kill_disable: true"), want: svc("web", "oom_kill_disable")},
		{rule: "service:oom_score_adj", compose: web("oom_score_adj: 500"), want: svc("web", "oom_score_adj")},
		{rule: "service:pid", compose: web("pid: host"), want: svc("web", "pid")},
		{rule: "service:platform", compose: web("platform: linux/amd64"), want: svc("web", "platform")},
		{rule: "service:privileged", compose: web("privileged: true"), want: svc("web", "privileged")},
		{rule: "service:runtime", compose: web("runtime: runc"), want: svc("web", "runtime")},
		{rule: "service:secrets", compose: web("secrets: [pw]") + "secrets:\n  pw:\n    environment: PW\n", want: svc("web", "secrets")},
		{rule: "service:security_opt", compose: web(`security_opt: ["no-new-privileges:true"]`), want: svc("web", "security_opt")},
		{rule: "service:shm_size", compose: web("shm_size: 64m"), want: svc("web", "shm_size")},
		{rule: "service:storage_opt", compose: web("storage_opt: {size: 1G}"), want: svc("web", "storage_opt")},
		{rule: "service:use_api_socket", compose: web("use_api_socket: true"), want: svc("web", "use_api_socket")},
		{rule: "service:userns_mode", compose: web("userns_mode: host"), want: svc("web", "userns_mode")},
		{rule: "service:uts", compose: web("uts: host"), want: svc("web", "uts")},
		{rule: "service:volume_driver", compose: web(""), mutate: setWeb(func(s *types.ServiceConfig) { s.VolumeDriver = "local" }), want: svc("web", "volume_driver")},
		{rule: "service:volumes_from", compose: web("volumes_from: [db]") + withDB, want: svc("web", "volumes_from")},
		{rule: "service:pre_start", compose: web(""), mutate: setWeb(func(s *types.ServiceConfig) { s.PreStart = []types.ServiceHook{{Command: []string{"true"}}} }), want: svc("web", "pre_start")},
		{rule: "service:post_start", compose: web("post_start: [{command: [echo, up]}]"), want: svc("web", "post_start")},
		{rule: "service:pre_stop", compose: web("pre_stop: [{command: [echo, down]}]"), want: svc("web", "pre_stop")},

		{rule: "deploy:update_config", compose: web("deploy: {update_config: {order: start-first}}"), want: svc("web", "deploy.update_config")},
		{rule: "deploy:rollback_config", compose: web("deploy: {rollback_config: {parallelism: 2}}"), want: svc("web", "deploy.rollback_config")},
		{rule: "deploy:placement", compose: web("deploy: {placement: {constraints: [node.role==manager]}}"), want: svc("web", "deploy.placement")},
		{rule: "limits:devices", compose: web("deploy: {resources: {limits: {cpus: \"1\"}}}"),
			mutate: setWeb(func(s *types.ServiceConfig) { s.Deploy.Resources.Limits.Devices = []types.DeviceRequest{{Count: 1}} }), want: svc("web", "deploy.resources.limits.devices")},
		{rule: "limits:generic_resources", compose: web("deploy: {resources: {limits: {cpus: \"1\"}}}"),
			mutate: setWeb(func(s *types.ServiceConfig) {
				s.Deploy.Resources.Limits.GenericResources = []types.GenericResource{{DiscreteResourceSpec: &types.DiscreteGenericResource{Kind: "gpu", Value: 1}}}
			}), want: svc("web", "deploy.resources.limits.generic_resources")},
		{rule: "reservations:pids", compose: web("deploy: {resources: {reservations: {memory: 64m}}}"),
			mutate: setWeb(func(s *types.ServiceConfig) { s.Deploy.Resources.Reservations.Pids = 10 }), want: svc("web", "deploy.resources.reservations.pids")},
		{rule: "reservations:devices", compose: web("deploy: {resources: {reservations: {devices: [{capabilities: [gpu]}]}}}"), want: svc("web", "deploy.resources.reservations.devices")},
		{rule: "reservations:generic_resources", compose: web("deploy: {resources: {reservations: {generic_resources: [{discrete_resource_spec: {kind: gpu, value: 2}}]}}}"),
			want: svc("web", "deploy.resources.reservations.generic_resources")},
		{rule: "healthcheck:start_interval", compose: web(`healthcheck: {test: [CMD, "true"], start_interval: 1s}`), want: svc("web", "healthcheck.start_interval")},
		{rule: "mount:image", compose: web("volumes: [{type: image, source: alpine, target: /img, image: {subpath: etc}}]"),
			want: svc("web", "volumes[0].image"), others: 1},
		{rule: "bind:selinux", compose: web("volumes: [{type: bind, source: /srv, target: /srv, bind: {selinux: z}}]"), opts: allowBinds, want: svc("web", "volumes[0].bind.selinux")},
		{rule: "volume_mount:subpath", compose: web("volumes: [{type: volume, source: data, target: /d, volume: {subpath: sub}}]") + "volumes:\n  data:\n",
			want: svc("web", "volumes[0].volume.subpath")},
		{rule: "attachment:driver_opts", compose: web("networks: {default: {driver_opts: {com.example: x}}}"), want: svc("web", "networks.default.driver_opts")},
		{rule: "attachment:gw_priority", compose: web("networks: {default: {gw_priority: 1}}"), want: svc("web", "networks.default.gw_priority")},
		{rule: "attachment:priority", compose: web("networks: {default: {priority: 10}}"), want: svc("web", "networks.default.priority")},
		{rule: "attachment:interface_name", compose: web("networks: {default: {interface_name: eth9}}"), want: svc("web", "networks.default.interface_name")},
		{rule: "attachment:ipv4_address", compose: web("networks: {default: {ipv4_address: 10.5.0.9}}"), want: svc("web", "networks.default.ipv4_address")},
		{rule: "attachment:ipv6_address", compose: web(`networks: {default: {ipv6_address: "fd00::9"}}`), want: svc("web", "networks.default.ipv6_address")},
		{rule: "attachment:link_local_ips", compose: web("networks: {default: {link_local_ips: [169.254.8.8]}}"), want: svc("web", "networks.default.link_local_ips")},
		{rule: "attachment:mac_address", compose: web("networks: {default: {mac_address: 02:42:ac:11:65:43}}"), want: svc("web", "networks.default.mac_address")},
		{rule: "network:driver_opts", compose: web("") + "networks:\n  default:\n    driver_opts: {encrypted: \"true\"}\n", want: svc("", "networks.default.driver_opts")},
		{rule: "network:ipam", compose: web("") + "networks:\n  default:\n    ipam: {config: [{subnet: 10.5.0.0/24}]}\n", want: svc("", "networks.default.ipam")},
		{rule: "network:external", compose: web("networks: [shared]") + "networks:\n  shared:\n    external: true\n", want: svc("", "networks.shared.external")},
		{rule: "network:enable_ipv4", compose: web("") + "networks:\n  default:\n    enable_ipv4: false\n", want: svc("", "networks.default.enable_ipv4")},
		{rule: "network:enable_ipv6", compose: web("") + "networks:\n  default:\n    enable_ipv6: true\n", want: svc("", "networks.default.enable_ipv6")},
		{rule: "volume:driver_opts", compose: web("volumes: [data:/d]") + "volumes:\n  data:\n    driver_opts: {type: none, o: bind, device: /srv}\n", want: svc("", "volumes.data.driver_opts")},
		{rule: "volume:external", compose: web("volumes: [data:/d]") + "volumes:\n  data:\n    external: true\n", want: svc("", "volumes.data.external")},

		// Values the converter refuses in code.
		{name: "image missing", compose: web(""), mutate: setWeb(func(s *types.ServiceConfig) { s.Image = "" }), want: svc("web", "image")},
		{name: "container_name of its own", compose: web("container_name: my-nginx"), want: svc("web", "container_name")},
		{name: "scale 2", compose: web("scale: 2"), want: svc("web", "scale")},
		{name: "deploy.replicas 3", compose: web("deploy: {replicas: 3}"), want: svc("web", "deploy.replicas")},
		{name: "deploy.mode global", compose: web("deploy: {mode: global}"), want: svc("web", "deploy.mode")},
		{name: "deploy.endpoint_mode unknown", compose: web(""), mutate: setWeb(func(s *types.ServiceConfig) { s.Deploy = &types.DeployConfig{EndpointMode: "mesh"} }), want: svc("web", "deploy.endpoint_mode")},
		{name: "pull_policy always", compose: web("pull_policy: always"), want: svc("web", "pull_policy")},
		{name: "pull_policy never", compose: web("pull_policy: never"), want: svc("web", "pull_policy")},
		{name: "empty entrypoint", compose: web("entrypoint: []"), want: svc("web", "entrypoint")},
		{name: "empty command", compose: web("command: []"), want: svc("web", "command")},
		{name: "restart unknown", compose: web("restart: sometimes"), want: svc("web", "restart")},
		{name: "restart on-failure:x", compose: web("restart: on-failure:x"), want: svc("web", "restart")},
		{name: "restart always:3", compose: web("restart: always:3"), want: svc("web", "restart")},
		{name: "deploy.restart_policy condition unknown", compose: web(""),
			mutate: setWeb(func(s *types.ServiceConfig) {
				s.Deploy = &types.DeployConfig{RestartPolicy: &types.RestartPolicy{Condition: "sometimes"}}
			}),
			want: svc("web", "deploy.restart_policy.condition")},
		{name: "depends_on service_completed_successfully", compose: web("depends_on: {db: {condition: service_completed_successfully}}") + withDB,
			want: svc("web", "depends_on.db.condition")},
		{name: "depends_on a disabled service", compose: web("") + withDB + "    profiles: [extra]\n",
			mutate: setWeb(func(s *types.ServiceConfig) {
				s.DependsOn = types.DependsOnConfig{"db": {Condition: types.ServiceConditionStarted, Required: true}}
			}), want: svc("web", "depends_on.db")},
		{name: "dependency cycle", compose: web("") + withDB,
			mutate: func(p *types.Project) {
				w, d := p.Services["web"], p.Services["db"]
				w.DependsOn = types.DependsOnConfig{"db": {Condition: types.ServiceConditionStarted, Required: true}}
				d.DependsOn = types.DependsOnConfig{"web": {Condition: types.ServiceConditionStarted, Required: true}}
				p.Services["web"], p.Services["db"] = w, d
			}, want: svc("web", "depends_on"), others: 1},
		{name: "port on loopback, by default", compose: web(`ports: ["127.0.0.1:3307:3306"]`), want: svc("web", "ports[0].host_ip")},
		{name: "${WEB_ADDRESS} 127.0.0.1, by default", compose: web(`ports: ["${WEB_ADDRESS:-0.0.0.0}:9001:80"]`), env: []string{"WEB_ADDRESS=127.0.0.1"},
			want: svc("web", "ports[0].host_ip")},
		{name: "port on another address", compose: web(`ports: ["192.168.1.5:80:80"]`), opts: func(o *Options) { o.LoopbackPorts = OmitLoopbackPorts },
			want: svc("web", "ports[0].host_ip")},
		{name: "port on a bad address", compose: web(""), mutate: setWeb(func(s *types.ServiceConfig) {
			s.Ports = []types.ServicePortConfig{{HostIP: "localhost", Target: 80, Published: "80", Protocol: "tcp"}}
		}), want: svc("web", "ports[0].host_ip")},
		{name: "published range", compose: web(`ports: ["9000-9010:80"]`), want: svc("web", "ports[0].published")},
		{name: "protocol unknown", compose: web(""), mutate: setWeb(func(s *types.ServiceConfig) {
			s.Ports = []types.ServicePortConfig{{Target: 80, Published: "80", Protocol: "quic"}}
		}), want: svc("web", "ports[0].protocol")},
		{name: "tmpfs option uid", compose: web(`tmpfs: ["/run:uid=1000"]`), want: svc("web", "tmpfs[0]")},
		{name: "tmpfs size in percent", compose: web(`tmpfs: ["/run:size=10%"]`), want: svc("web", "tmpfs[0]")},
		{name: "tmpfs bad mode", compose: web(`tmpfs: ["/run:mode=999"]`), want: svc("web", "tmpfs[0]")},
		{name: "anonymous volume", compose: web("volumes: [/data]"), want: svc("web", "volumes[0]")},
		{name: "bind mount not allowed", compose: web("volumes: [/srv/data:/data]"), want: svc("web", "volumes[0]")},
		{name: "bind mount read-only recursion", compose: web("volumes: [{type: bind, source: /srv, target: /srv, bind: {recursive: readonly}}]"), opts: allowBinds,
			want: svc("web", "volumes[0].bind.recursive")},
		{name: "npipe mount", compose: web(`volumes: [{type: npipe, source: '\\.\pipe\docker_engine', target: '\\.\pipe\docker_engine'}]`), want: svc("web", "volumes[0].type")},
		{name: "undeclared volume", compose: web("volumes: [data:/d]") + "volumes:\n  data:\n", mutate: func(p *types.Project) { delete(p.Volumes, "data") },
			want: svc("web", "volumes[0].source")},
		{name: "network driver bridge", compose: web("") + "networks:\n  default:\n    driver: bridge\n", want: svc("", "networks.default.driver")},
		{name: "network named by the file", compose: web("") + "networks:\n  default:\n    name: shared-net\n", want: svc("", "networks.default.name")},
		{name: "network name too long for Swarm", compose: web("networks: [a-network-whose-name-is-far-too-long-for-a-swarm-network]") + "networks:\n  a-network-whose-name-is-far-too-long-for-a-swarm-network:\n",
			want: svc("", "networks.a-network-whose-name-is-far-too-long-for-a-swarm-network")},
		{name: "undeclared network", compose: web(""), mutate: setWeb(func(s *types.ServiceConfig) { s.Networks["elsewhere"] = nil }), want: svc("web", "networks.elsewhere")},
		{name: "volume driver nfs", compose: web("volumes: [data:/d]") + "volumes:\n  data:\n    driver: nfs\n", want: svc("", "volumes.data.driver")},
		{name: "volume named by the file", compose: web("volumes: [data:/d]") + "volumes:\n  data:\n    name: shared-data\n", want: svc("", "volumes.data.name")},
		{name: "service name with a dot", compose: web("") + "  my.db:\n    image: mariadb\n", want: svc("my.db", "name")},
		{name: "service name too long for Swarm", compose: web("") + "  a-database-service-with-a-name-far-too-long-for-swarm:\n    image: mariadb\n",
			want: svc("a-database-service-with-a-name-far-too-long-for-swarm", "name")},
		{name: "logging options without a driver", compose: web("logging: {options: {max-size: 10m}}"), want: svc("web", "logging.options")},
		{name: "dns not an address", compose: web("dns: [dns.example.org]"), want: svc("web", "dns[0]")},
	}
}

// TestConvert_Unsupported: each key Swarm cannot honour is exactly one
// problem naming the service and the key, with a reason.
func TestConvert_Unsupported(t *testing.T) {
	for _, tc := range unsupportedCases() {
		name := tc.name
		if name == "" {
			name = tc.rule
		}
		t.Run(name, func(t *testing.T) {
			p := mustLoad(t, tc.compose, tc.env...)
			if tc.mutate != nil {
				tc.mutate(p)
			}
			opts := blogOptions()
			if tc.opts != nil {
				tc.opts(&opts)
			}
			plan, err := Convert(p, opts)
			assert.Nil(t, plan)
			got := problems(t, err)
			require.Len(t, got, 1+tc.others, "problems: %v", got)
			i := slices.IndexFunc(got, func(u Unsupported) bool { return u.Service == tc.want.Service && u.Key == tc.want.Key })
			require.GreaterOrEqual(t, i, 0, "got %v, want service %q key %q", got, tc.want.Service, tc.want.Key)
			assert.NotEmpty(t, got[i].Reason)
			assert.Contains(t, err.Error(), got[i].Error())
		})
	}
}

// TestEveryRefusedKeyHasACase fails when a table refuses a key no case of
// TestConvert_Unsupported sets.
func TestEveryRefusedKeyHasACase(t *testing.T) {
	covered := map[string]bool{}
	for _, tc := range unsupportedCases() {
		covered[tc.rule] = true
	}
	for _, tbl := range ruleTables {
		for key, reason := range tbl.rules {
			if reason != handled {
				assert.True(t, covered[tbl.name+":"+key], "no case sets %s:%s", tbl.name, key)
			}
		}
	}
}

// TestConvert_ReportsEveryProblemAtOnce: one call names every problem of
// the project, project-level ones first, then the services by name.
func TestConvert_ReportsEveryProblemAtOnce(t *testing.T) {
	p := mustLoad(t, `
services:
  web:
    image: nginx
    privileged: true
    ports: ["127.0.0.1:8080:80", "9000-9001:81"]
    volumes: [/srv:/srv]
  db:
    image: mariadb
    network_mode: host
    build: .
volumes:
  data:
    external: true
`)
	_, err := Convert(p, blogOptions())
	got := problems(t, err)
	var keys []string
	for _, u := range got {
		keys = append(keys, u.Service+"/"+u.Key)
	}
	assert.Equal(t, []string{
		"/volumes.data.external",
		"db/build", "db/network_mode",
		"web/privileged", "web/volumes[0]", "web/ports[0].host_ip", "web/ports[1].published",
	}, keys)
	assert.True(t, strings.HasPrefix(err.Error(), "swarm spec of blog: 7 compose settings have no Swarm equivalent: volumes.data.external: "), err.Error())
	assert.Contains(t, err.Error(), "; service db: build: Swarm runs images only")
}

// TestConvert_BadOptions: options that do not fit the project are an
// error of their own, not an Unsupported.
func TestConvert_BadOptions(t *testing.T) {
	compose := web("") + "  db:\n    image: mariadb\n    profiles: [extra]\n"
	cases := []struct {
		name    string
		project string
		opts    func(*Options)
		want    string
	}{
		{"bad app name", "websoft9-blog", func(o *Options) { o.App = "Blog!" }, "app name"},
		{"project of another app", "websoft9-other", nil, `project "websoft9-other" is not app blog's (load it as websoft9-blog)`},
		{"main not a service", "websoft9-blog", func(o *Options) { o.Main = "app" }, `main service "app" is not a service of the model (services: web)`},
		{"main disabled", "websoft9-blog", func(o *Options) { o.Main = "db" }, `main service "db" is disabled`},
		{"no node", "websoft9-blog", func(o *Options) { o.Node = Node{} }, "neither an ID nor a hostname"},
		{"both node ID and hostname", "websoft9-blog", func(o *Options) { o.Node = Node{ID: "n1", Hostname: "h"} }, "not both"},
		{"bad node ID", "websoft9-blog", func(o *Options) { o.Node = Node{ID: "N 1"} }, "node ID"},
		{"bad node hostname", "websoft9-blog", func(o *Options) { o.Node = Node{Hostname: "a==b"} }, "not a host name"},
		{"unknown loopback choice", "websoft9-blog", func(o *Options) { o.LoopbackPorts = 7 }, "loopback ports"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := dir + "/docker-compose.yml"
			require.NoError(t, writeFile(path, compose))
			p := mustLoadFile(t, path, tc.project, nil)
			opts := blogOptions()
			if tc.opts != nil {
				tc.opts(&opts)
			}
			_, err := Convert(p, opts)
			require.Error(t, err)
			assert.NotErrorIs(t, err, ErrUnsupported)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	_, err := Convert(nil, blogOptions())
	assert.ErrorContains(t, err, "no project")
}

func TestUnsupported_Error(t *testing.T) {
	assert.Equal(t, "service db: privileged: no", Unsupported{Service: "db", Key: "privileged", Reason: "no"}.Error())
	assert.Equal(t, "volumes.data.external: no", Unsupported{Key: "volumes.data.external", Reason: "no"}.Error())
	one := &UnsupportedError{Problems: []Unsupported{{Service: "db", Key: "pid", Reason: "no"}}}
	assert.Equal(t, "1 compose setting has no Swarm equivalent: service db: pid: no", one.Error())
	wrapped := fmt.Errorf("install: %w", one)
	assert.ErrorIs(t, wrapped, ErrUnsupported)
	assert.ErrorIs(t, wrapped, Unsupported{Service: "db", Key: "pid", Reason: "no"})
}
