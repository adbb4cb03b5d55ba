package swarmspec

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/volume"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// web is a compose file whose service web (image nginx) has the given
// extra lines, indented as service keys.
func web(extra string) string {
	var b strings.Builder
	b.WriteString("services:\n  web:\n    image: nginx:1.27\n")
	for _, line := range strings.Split(strings.Trim(extra, "\n"), "\n") {
		if line != "" {
			b.WriteString("    " + line + "\n")
		}
	}
	return b.String()
}

func ptr[T any](v T) *T { return &v }

func containerSpec(p *Plan) *swarm.ContainerSpec {
	return p.Services[0].Spec.TaskTemplate.ContainerSpec
}
func taskSpec(p *Plan) swarm.TaskSpec { return p.Services[0].Spec.TaskTemplate }

// TestConvert_Rules: each compose key lands in its spec field.
func TestConvert_Rules(t *testing.T) {
	cases := []struct {
		name    string
		compose string
		env     []string
		opts    func(*Options)
		got     func(*Plan) any
		want    any
	}{
		{"image", web(""), nil, nil,
			func(p *Plan) any { return containerSpec(p).Image }, "nginx:1.27"},
		{"entrypoint is Command", web(`entrypoint: ["/bin/tini", "--"]`), nil, nil,
			func(p *Plan) any { return containerSpec(p).Command }, []string{"/bin/tini", "--"}},
		{"command is Args", web(`command: ["nginx", "-g", "daemon off;"]`), nil, nil,
			func(p *Plan) any { return containerSpec(p).Args }, []string{"nginx", "-g", "daemon off;"}},
		{"command as a string is split as compose splits it", web(`command: nginx -g "daemon off;"`), nil, nil,
			func(p *Plan) any { return containerSpec(p).Args }, []string{"nginx", "-g", "daemon off;"}},
		{"no command keeps the image's", web(""), nil, nil,
			func(p *Plan) any { return containerSpec(p).Args }, []string(nil)},
		{"environment sorted, an unset name alone", web("environment:\n  ZED: last\n  ALPHA: first\n  EMPTY: \"\"\n  UNSET:"), nil, nil,
			func(p *Plan) any { return containerSpec(p).Env }, []string{"ALPHA=first", "EMPTY=", "UNSET", "ZED=last"}},
		{"environment interpolated", web("environment:\n  URL: http://${HOST}/"), []string{"HOST=example.org"}, nil,
			func(p *Plan) any { return containerSpec(p).Env }, []string{"URL=http://example.org/"}},
		{"user", web("user: 1000:1000"), nil, nil,
			func(p *Plan) any { return containerSpec(p).User }, "1000:1000"},
		{"working_dir", web("working_dir: /srv"), nil, nil,
			func(p *Plan) any { return containerSpec(p).Dir }, "/srv"},
		{"group_add", web("group_add: [audio]"), nil, nil,
			func(p *Plan) any { return containerSpec(p).Groups }, []string{"audio"}},
		{"container labels: compose's, then StackHub's", web("labels:\n  com.example.tier: front\n  sh.websoft9.app: spoofed"), nil, nil,
			func(p *Plan) any { return containerSpec(p).Labels },
			map[string]string{"com.example.tier": "front", "sh.websoft9.app": "blog", "sh.websoft9.service": "web", StackLabel: "websoft9-blog"}},
		{"service labels: deploy.labels, StackHub's and the run", web("deploy:\n  labels:\n    com.example.owner: ops"), nil,
			func(o *Options) { o.RunID = "run-7" },
			func(p *Plan) any { return p.Services[0].Spec.Labels },
			map[string]string{"com.example.owner": "ops", "sh.websoft9.app": "blog", "sh.websoft9.service": "web", "sh.websoft9.run": "run-7", StackLabel: "websoft9-blog"}},
		{"the run id never reaches the container spec", web(""), nil,
			func(o *Options) { o.RunID = "run-7" },
			func(p *Plan) any { _, ok := containerSpec(p).Labels["sh.websoft9.run"]; return ok }, false},
		{"main service name", web(""), nil, nil,
			func(p *Plan) any { return p.Services[0].Spec.Name }, "websoft9-blog"},
		{"hostname is the service name", web(""), nil, nil,
			func(p *Plan) any { return containerSpec(p).Hostname }, "websoft9-blog"},
		{"hostname", web("hostname: blog.local"), nil, nil,
			func(p *Plan) any { return containerSpec(p).Hostname }, "blog.local"},
		{"container_name StackHub's own is accepted", web("container_name: websoft9-blog"), nil, nil,
			func(p *Plan) any { return p.Services[0].Spec.Name }, "websoft9-blog"},
		{"one replica, replicated", web(""), nil, nil,
			func(p *Plan) any { return p.Services[0].Spec.Mode }, swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: ptr(uint64(1))}}},
		{"deploy.replicas 1 and scale 1 are accepted", web("scale: 1\ndeploy:\n  replicas: 1"), nil, nil,
			func(p *Plan) any { return *p.Services[0].Spec.Mode.Replicated.Replicas }, uint64(1)},
		{"stop-first updates and rollbacks", web(""), nil, nil,
			func(p *Plan) any { return []any{*p.Services[0].Spec.UpdateConfig, *p.Services[0].Spec.RollbackConfig} },
			[]any{swarm.UpdateConfig{Parallelism: 1, Order: swarm.UpdateOrderStopFirst}, swarm.UpdateConfig{Parallelism: 1, Order: swarm.UpdateOrderStopFirst}}},
		{"placement on the node's ID", web(""), nil, nil,
			func(p *Plan) any { return taskSpec(p).Placement.Constraints }, []string{"node.id==n1"}},
		{"placement on the node's hostname", web(""), nil,
			func(o *Options) { o.Node = Node{Hostname: "worker-2"} },
			func(p *Plan) any { return taskSpec(p).Placement.Constraints }, []string{"node.hostname==worker-2"}},
		{"port in host mode", web(`ports: ["8080:80"]`), nil, nil,
			func(p *Plan) any { return p.Services[0].Spec.EndpointSpec },
			&swarm.EndpointSpec{Mode: swarm.ResolutionModeDNSRR, Ports: []swarm.PortConfig{{Protocol: network.TCP, TargetPort: 80, PublishedPort: 8080, PublishMode: swarm.PortConfigPublishModeHost}}}},
		{"udp on 0.0.0.0, tcp on ::", web(`ports: ["0.0.0.0:5353:53/udp", "[::]:8443:443"]`), nil, nil,
			func(p *Plan) any { return p.Services[0].Spec.EndpointSpec.Ports },
			[]swarm.PortConfig{
				{Protocol: network.UDP, TargetPort: 53, PublishedPort: 5353, PublishMode: swarm.PortConfigPublishModeHost},
				{Protocol: network.TCP, TargetPort: 443, PublishedPort: 8443, PublishMode: swarm.PortConfigPublishModeHost}}},
		{"an ingress port is published in host mode", web("ports:\n  - {target: 80, published: \"8080\", mode: ingress, name: http}"), nil, nil,
			func(p *Plan) any { return p.Services[0].Spec.EndpointSpec.Ports },
			[]swarm.PortConfig{{Name: "http", Protocol: network.TCP, TargetPort: 80, PublishedPort: 8080, PublishMode: swarm.PortConfigPublishModeHost}}},
		{"no published port: the node's engine picks one", web(`ports: ["80"]`), nil, nil,
			func(p *Plan) any { return p.Services[0].Spec.EndpointSpec.Ports },
			[]swarm.PortConfig{{Protocol: network.TCP, TargetPort: 80, PublishMode: swarm.PortConfigPublishModeHost}}},
		{"a range of one port", web(`ports: ["8080-8080:80"]`), nil, nil,
			func(p *Plan) any { return p.Services[0].Spec.EndpointSpec.Ports[0].PublishedPort }, uint32(8080)},
		{"matching ranges are ports each", web(`ports: ["8000-8001:80-81"]`), nil, nil,
			func(p *Plan) any {
				var got []uint32
				for _, x := range p.Services[0].Spec.EndpointSpec.Ports {
					got = append(got, x.PublishedPort, x.TargetPort)
				}
				return got
			}, []uint32{8000, 80, 8001, 81}},
		{"${WEB_ADDRESS} 0.0.0.0 is published", web(`ports: ["${WEB_ADDRESS:-0.0.0.0}:9001:80"]`), []string{"WEB_ADDRESS=0.0.0.0"}, nil,
			func(p *Plan) any { return len(p.Services[0].Spec.EndpointSpec.Ports) }, 1},
		{"a loopback port is left out with OmitLoopbackPorts", web(`ports: ["127.0.0.1:3307:3306", "9001:80"]`), nil,
			func(o *Options) { o.LoopbackPorts = OmitLoopbackPorts },
			func(p *Plan) any { return []any{p.Unpublished, len(p.Services[0].Spec.EndpointSpec.Ports)} },
			[]any{[]UnpublishedPort{{Service: "web", HostIP: "127.0.0.1", Published: 3307, Target: 3306, Protocol: "tcp"}}, 1}},
		{"${WEB_ADDRESS} 127.0.0.1 is left out with OmitLoopbackPorts", web(`ports: ["${WEB_ADDRESS:-0.0.0.0}:9001:80"]`), []string{"WEB_ADDRESS=127.0.0.1"},
			func(o *Options) { o.LoopbackPorts = OmitLoopbackPorts },
			func(p *Plan) any { return p.Unpublished[0].String() }, "web 127.0.0.1:9001:80/tcp"},
		{"::1 is loopback too", web(`ports: ["[::1]:9001:80"]`), nil,
			func(o *Options) { o.LoopbackPorts = OmitLoopbackPorts },
			func(p *Plan) any { return p.Unpublished[0].HostIP }, "::1"},
		{"expose publishes nothing", web(`expose: ["9000"]`), nil, nil,
			func(p *Plan) any { return p.Services[0].Spec.EndpointSpec.Ports }, []swarm.PortConfig(nil)},
		{"endpoint_mode dnsrr", web("deploy:\n  endpoint_mode: dnsrr"), nil, nil,
			func(p *Plan) any { return p.Services[0].Spec.EndpointSpec.Mode }, swarm.ResolutionModeDNSRR},
		{"healthcheck", web("healthcheck:\n  test: [\"CMD\", \"curl\", \"-f\", \"http://127.0.0.1/\"]\n  interval: 5s\n  timeout: 3s\n  retries: 30\n  start_period: 1m"), nil, nil,
			func(p *Plan) any { return containerSpec(p).Healthcheck },
			&container.HealthConfig{Test: []string{"CMD", "curl", "-f", "http://127.0.0.1/"}, Interval: 5 * time.Second, Timeout: 3 * time.Second, Retries: 30, StartPeriod: time.Minute}},
		{"healthcheck as a shell string", web(`healthcheck: {test: "curl -f http://127.0.0.1/ || exit 1"}`), nil, nil,
			func(p *Plan) any { return containerSpec(p).Healthcheck.Test }, []string{"CMD-SHELL", "curl -f http://127.0.0.1/ || exit 1"}},
		{"healthcheck disabled", web("healthcheck:\n  disable: true"), nil, nil,
			func(p *Plan) any { return containerSpec(p).Healthcheck }, &container.HealthConfig{Test: []string{"NONE"}}},
		{"no healthcheck keeps the image's", web(""), nil, nil,
			func(p *Plan) any { return containerSpec(p).Healthcheck }, (*container.HealthConfig)(nil)},
		{"restart unset is none, as compose's default no", web(""), nil, nil,
			func(p *Plan) any { return *taskSpec(p).RestartPolicy }, swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionNone}},
		{"restart no", web("restart: \"no\""), nil, nil,
			func(p *Plan) any { return *taskSpec(p).RestartPolicy }, swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionNone}},
		{"restart always", web("restart: always"), nil, nil,
			func(p *Plan) any { return *taskSpec(p).RestartPolicy }, swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionAny}},
		{"restart unless-stopped", web("restart: unless-stopped"), nil, nil,
			func(p *Plan) any { return *taskSpec(p).RestartPolicy }, swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionAny}},
		{"restart on-failure", web("restart: on-failure"), nil, nil,
			func(p *Plan) any { return *taskSpec(p).RestartPolicy }, swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionOnFailure}},
		{"restart on-failure:3", web("restart: on-failure:3"), nil, nil,
			func(p *Plan) any { return *taskSpec(p).RestartPolicy }, swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionOnFailure, MaxAttempts: ptr(uint64(3))}},
		{"deploy.restart_policy wins over restart", web("restart: always\ndeploy:\n  restart_policy: {condition: on-failure, delay: 10s, max_attempts: 5, window: 2m}"), nil, nil,
			func(p *Plan) any { return *taskSpec(p).RestartPolicy },
			swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionOnFailure, Delay: ptr(10 * time.Second), MaxAttempts: ptr(uint64(5)), Window: ptr(2 * time.Minute)}},
		{"deploy.restart_policy none", web("deploy:\n  restart_policy: {condition: none}"), nil, nil,
			func(p *Plan) any { return taskSpec(p).RestartPolicy.Condition }, swarm.RestartPolicyConditionNone},
		{"stop_grace_period and stop_signal", web("stop_grace_period: 1m30s\nstop_signal: SIGQUIT"), nil, nil,
			func(p *Plan) any { return []any{*containerSpec(p).StopGracePeriod, containerSpec(p).StopSignal} }, []any{90 * time.Second, "SIGQUIT"}},
		{"cap_add and cap_drop", web("cap_add: [NET_BIND_SERVICE]\ncap_drop: [ALL]"), nil, nil,
			func(p *Plan) any { return [][]string{containerSpec(p).CapabilityAdd, containerSpec(p).CapabilityDrop} }, [][]string{{"NET_BIND_SERVICE"}, {"ALL"}}},
		{"sysctls", web("sysctls:\n  net.core.somaxconn: \"1024\""), nil, nil,
			func(p *Plan) any { return containerSpec(p).Sysctls }, map[string]string{"net.core.somaxconn": "1024"}},
		{"ulimits by name, a single value both limits", web("ulimits:\n  nproc: 512\n  nofile: {soft: 1024, hard: 4096}"), nil, nil,
			func(p *Plan) any { return containerSpec(p).Ulimits },
			[]*container.Ulimit{{Name: "nofile", Soft: 1024, Hard: 4096}, {Name: "nproc", Soft: 512, Hard: 512}}},
		{"init, read_only, tty, stdin_open", web("init: true\nread_only: true\ntty: true\nstdin_open: true"), nil, nil,
			func(p *Plan) any {
				cs := containerSpec(p)
				return []bool{*cs.Init, cs.ReadOnly, cs.TTY, cs.OpenStdin}
			}, []bool{true, true, true, true}},
		{"extra_hosts as hosts(5) lines", web(`extra_hosts: ["db.local:10.0.0.5", "gw=host-gateway", "v6:::1"]`), nil, nil,
			func(p *Plan) any { return containerSpec(p).Hosts }, []string{"10.0.0.5 db.local", "::1 v6", "host-gateway gw"}},
		{"dns, dns_search, dns_opt", web("dns: [1.1.1.1, \"2606:4700:4700::1111\"]\ndns_search: [example.org]\ndns_opt: [ndots:2]"), nil, nil,
			func(p *Plan) any { return containerSpec(p).DNSConfig },
			&swarm.DNSConfig{Nameservers: []netip.Addr{netip.MustParseAddr("1.1.1.1"), netip.MustParseAddr("2606:4700:4700::1111")}, Search: []string{"example.org"}, Options: []string{"ndots:2"}}},
		{"cpus, mem_limit, mem_reservation, pids_limit", web("cpus: 1.1\nmem_limit: 512m\nmem_reservation: 128m\npids_limit: 200"), nil, nil,
			func(p *Plan) any { return *taskSpec(p).Resources },
			swarm.ResourceRequirements{Limits: &swarm.Limit{NanoCPUs: 1_100_000_000, MemoryBytes: 512 << 20, Pids: 200}, Reservations: &swarm.Resources{MemoryBytes: 128 << 20}}},
		{"deploy.resources", web("deploy:\n  resources:\n    limits: {cpus: \"0.5\", memory: 1g, pids: 100}\n    reservations: {cpus: \"0.25\", memory: 256m}"), nil, nil,
			func(p *Plan) any { return *taskSpec(p).Resources },
			swarm.ResourceRequirements{Limits: &swarm.Limit{NanoCPUs: 500_000_000, MemoryBytes: 1 << 30, Pids: 100}, Reservations: &swarm.Resources{NanoCPUs: 250_000_000, MemoryBytes: 256 << 20}}},
		{"pids_limit -1 is no limit", web("pids_limit: -1"), nil, nil,
			func(p *Plan) any { return taskSpec(p).Resources }, (*swarm.ResourceRequirements)(nil)},
		{"logging", web("logging:\n  driver: json-file\n  options: {max-size: 10m, max-file: \"3\"}"), nil, nil,
			func(p *Plan) any { return taskSpec(p).LogDriver }, &swarm.Driver{Name: "json-file", Options: map[string]string{"max-size": "10m", "max-file": "3"}}},
		{"named volume", web("volumes:\n  - data:/var/lib/data\n  - type: volume\n    source: cache\n    target: /cache\n    read_only: true\n    volume: {nocopy: true}") + "volumes:\n  data:\n  cache:\n    labels: {com.example.kind: cache}\n", nil, nil,
			func(p *Plan) any { return containerSpec(p).Mounts },
			[]mount.Mount{
				{Type: mount.TypeVolume, Source: "websoft9-blog_data", Target: "/var/lib/data", VolumeOptions: &mount.VolumeOptions{
					Labels: map[string]string{"sh.websoft9.app": "blog", StackLabel: "websoft9-blog"}, DriverConfig: &mount.Driver{Name: "local"}}},
				{Type: mount.TypeVolume, Source: "websoft9-blog_cache", Target: "/cache", ReadOnly: true, VolumeOptions: &mount.VolumeOptions{NoCopy: true,
					Labels: map[string]string{"com.example.kind": "cache", "sh.websoft9.app": "blog", StackLabel: "websoft9-blog"}, DriverConfig: &mount.Driver{Name: "local"}}}}},
		{"the plan's volumes are the mounts' volumes", web("volumes: [data:/data]") + "volumes:\n  data:\n", nil,
			func(o *Options) { o.RunID = "run-7" },
			func(p *Plan) any { return p.Volumes },
			[]Volume{{Key: "data", Spec: volume.CreateRequest{Name: "websoft9-blog_data", Driver: "local", Labels: map[string]string{"sh.websoft9.app": "blog", StackLabel: "websoft9-blog"}}}}},
		{"tmpfs volume", web("volumes:\n  - type: tmpfs\n    target: /run\n    tmpfs: {size: 67108864}"), nil, nil,
			func(p *Plan) any { return containerSpec(p).Mounts },
			[]mount.Mount{{Type: mount.TypeTmpfs, Target: "/run", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 64 << 20}}}},
		{"tmpfs entries with size and mode", web(`tmpfs: ["/tmp", "/run:size=64m,mode=1777"]`), nil, nil,
			func(p *Plan) any { return containerSpec(p).Mounts },
			[]mount.Mount{{Type: mount.TypeTmpfs, Target: "/tmp"}, {Type: mount.TypeTmpfs, Target: "/run", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 64 << 20, Mode: 0o1777}}}},
		{"bind mount when allowed", web("volumes:\n  - type: bind\n    source: /srv/backup\n    target: /backup\n    read_only: true\n    bind: {propagation: rslave, recursive: disabled}"), nil,
			func(o *Options) { o.AllowBindMounts = true },
			func(p *Plan) any { return containerSpec(p).Mounts },
			[]mount.Mount{{Type: mount.TypeBind, Source: "/srv/backup", Target: "/backup", ReadOnly: true, BindOptions: &mount.BindOptions{Propagation: mount.PropagationRSlave, NonRecursive: true}}}},
		{"default network", web(""), nil, nil,
			func(p *Plan) any { return []any{taskSpec(p).Networks, p.Networks} },
			[]any{
				[]swarm.NetworkAttachmentConfig{{Target: "websoft9-blog_default", Aliases: []string{"web"}}},
				[]Network{{Key: "default", Spec: network.CreateRequest{Name: "websoft9-blog_default", Driver: "overlay", Scope: "swarm", Attachable: true,
					Labels: map[string]string{"sh.websoft9.app": "blog", StackLabel: "websoft9-blog"}}}}}},
		{"the network carries the run", web(""), nil,
			func(o *Options) { o.RunID = "run-7" },
			func(p *Plan) any { return p.Networks[0].Spec.Labels["sh.websoft9.run"] }, "run-7"},
		{"declared networks, aliases, internal", web("networks:\n  back:\n    aliases: [web.internal]\n  front:") + "networks:\n  front:\n  back:\n    internal: true\n    labels: {com.example.zone: back}\n", nil, nil,
			func(p *Plan) any {
				return []any{taskSpec(p).Networks, p.Networks[0].Spec.Internal, p.Networks[0].Spec.Labels["com.example.zone"], p.Networks[1].Spec.Name}
			},
			[]any{
				[]swarm.NetworkAttachmentConfig{{Target: "websoft9-blog_back", Aliases: []string{"web", "web.internal"}}, {Target: "websoft9-blog_front", Aliases: []string{"web"}}},
				true, "back", "websoft9-blog_front"}},
		{"overlay driver accepted", web("") + "networks:\n  default:\n    driver: overlay\n", nil, nil,
			func(p *Plan) any { return p.Networks[0].Spec.Driver }, "overlay"},
		{"x- extensions are ignored", web("x-note: kept out") + "x-top: ignored\n", nil, nil,
			func(p *Plan) any { return containerSpec(p).Image }, "nginx:1.27"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := blogOptions()
			if tc.opts != nil {
				tc.opts(&opts)
			}
			plan := mustConvert(t, mustLoad(t, tc.compose, tc.env...), opts)
			assert.Equal(t, tc.want, tc.got(plan))
		})
	}
}

// TestConvert_ServiceNames: services other than main are
// websoft9-<app>-<service>, with the compose name as alias and hostname.
func TestConvert_ServiceNames(t *testing.T) {
	plan := mustConvert(t, mustLoad(t, "services:\n  web:\n    image: nginx\n  db:\n    image: mariadb\n"), blogOptions())
	db := service(t, plan, "db")
	assert.False(t, db.Main)
	assert.Equal(t, "websoft9-blog-db", db.Spec.Name)
	assert.Equal(t, "websoft9-blog-db", db.Spec.TaskTemplate.ContainerSpec.Hostname)
	assert.Equal(t, []string{"db"}, db.Spec.TaskTemplate.Networks[0].Aliases)
	assert.True(t, service(t, plan, "web").Main)
}

// TestConvert_DependencyOrder: services come after their dependencies,
// ties by name, and each waits for its dependencies' conditions.
func TestConvert_DependencyOrder(t *testing.T) {
	p := mustLoad(t, `
services:
  web:
    image: nginx
    depends_on:
      app: {condition: service_healthy}
  app:
    image: app
    depends_on:
      db: {condition: service_healthy, restart: true}
      cache: {condition: service_started}
  db:
    image: mariadb
  cache:
    image: redis
  admin:
    image: adminer
    depends_on: [db]
`)
	plan := mustConvert(t, p, blogOptions())
	var order []string
	for _, s := range plan.Services {
		order = append(order, s.Name)
	}
	assert.Equal(t, []string{"cache", "db", "admin", "app", "web"}, order)
	assert.Equal(t, []Wait{
		{Service: "cache", SwarmService: "websoft9-blog-cache", Condition: Running},
		{Service: "db", SwarmService: "websoft9-blog-db", Condition: Healthy, Restart: true},
	}, service(t, plan, "app").Waits)
	assert.Equal(t, []Wait{{Service: "app", SwarmService: "websoft9-blog-app", Condition: Healthy}}, service(t, plan, "web").Waits)
	assert.Equal(t, []Wait{{Service: "db", SwarmService: "websoft9-blog-db", Condition: Running}}, service(t, plan, "admin").Waits)
	assert.Empty(t, service(t, plan, "db").Waits)
}

// TestConvert_ProfilesDisabled: a service its profile disables is not
// deployed; an optional dependency on it is dropped.
func TestConvert_ProfilesDisabled(t *testing.T) {
	p := mustLoad(t, `
services:
  web:
    image: nginx
    depends_on:
      debug: {condition: service_started, required: false}
  debug:
    image: busybox
    profiles: [debug]
`)
	require.Contains(t, p.DisabledServices, "debug")
	plan := mustConvert(t, p, blogOptions())
	require.Len(t, plan.Services, 1)
	assert.Empty(t, plan.Services[0].Waits)
}

// TestConvert_DoesNotModifyTheProject: the project is read only.
func TestConvert_DoesNotModifyTheProject(t *testing.T) {
	compose := web("labels: {a: b}\nenvironment: {A: b}\nports: [\"8080:80\"]\nvolumes: [data:/data]") + "volumes:\n  data:\n    labels: {c: d}\n"
	p := mustLoad(t, compose)
	before, err := p.MarshalJSON()
	require.NoError(t, err)
	mustConvert(t, p, blogOptions())
	after, err := p.MarshalJSON()
	require.NoError(t, err)
	assert.JSONEq(t, string(before), string(after))
}

// TestConvert_SharesNoMemoryWithTheProject: changing a spec leaves the
// project as it was.
func TestConvert_SharesNoMemoryWithTheProject(t *testing.T) {
	p := mustLoad(t, web("init: true\nlabels: {a: b}\nsysctls: {net.core.somaxconn: \"1\"}\ncap_add: [CHOWN]\ndeploy: {restart_policy: {max_attempts: 2}}"))
	plan := mustConvert(t, p, blogOptions())
	cs := containerSpec(plan)
	*cs.Init = false
	cs.Labels["a"] = "changed"
	cs.Sysctls["net.core.somaxconn"] = "2"
	cs.CapabilityAdd[0] = "ALL"
	*taskSpec(plan).RestartPolicy.MaxAttempts = 9
	s := p.Services["web"]
	assert.True(t, *s.Init)
	assert.Equal(t, "b", s.Labels["a"])
	assert.Equal(t, "1", s.Sysctls["net.core.somaxconn"])
	assert.Equal(t, []string{"CHOWN"}, s.CapAdd)
	assert.Equal(t, uint64(2), *s.Deploy.RestartPolicy.MaxAttempts)
}

// TestPlan_String lists the plan without its environment.
func TestPlan_String(t *testing.T) {
	p := mustLoad(t, `
services:
  web:
    image: nginx:1.27
    environment: {SECRET: s3cr3t}
    ports: ["9001:80", "127.0.0.1:9002:81"]
    depends_on:
      db: {condition: service_healthy}
      cache: {condition: service_started}
  db:
    image: mariadb:11
    volumes: [db:/var/lib/mysql]
  cache:
    image: redis:7
volumes:
  db:
`)
	opts := blogOptions()
	opts.Node, opts.LoopbackPorts = Node{Hostname: "worker-2"}, OmitLoopbackPorts
	got := mustConvert(t, p, opts).String()
	assert.Equal(t, `app blog (websoft9-blog) on node.hostname==worker-2
network websoft9-blog_default (overlay, attachable)
volume websoft9-blog_db (local)
service websoft9-blog-cache (cache): redis:7
service websoft9-blog-db (db): mariadb:11
service websoft9-blog (web, main): nginx:1.27, after cache running, db healthy, publishes 9001:80/tcp
left unpublished: web 127.0.0.1:9002:81/tcp
`, got)
	assert.NotContains(t, got, "s3cr3t")
}
