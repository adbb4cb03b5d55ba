package dockerpolicy

import (
	"context"
	"testing"

	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// presentImages are the images the manager's engine has.
type presentImages []string

func (p presentImages) ImagePresent(_ context.Context, ref string) (bool, error) {
	for _, img := range p {
		if sameImage(img, ref) {
			return true, nil
		}
	}
	return false, nil
}

// swarmPolicy is testPolicy placed on node n1.
func swarmPolicy() Policy {
	p := testPolicy
	p.Node = "n1"
	return p
}

// okService is a spec as swarmspec makes it for app's web service on n1.
func okService() swarm.ServiceSpec {
	one := uint64(1)
	return swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: "websoft9-app", Labels: map[string]string{"sh.websoft9.app": "app"}},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{Image: "redmine:5.1.3", Labels: map[string]string{"sh.websoft9.app": "app"},
				Mounts:        []mount.Mount{{Type: mount.TypeVolume, Source: "websoft9-app_data", Target: "/data"}, {Type: mount.TypeVolume, Source: "websoft9-app_new", Target: "/new"}},
				CapabilityAdd: []string{"CHOWN"}, Sysctls: map[string]string{"net.core.somaxconn": "1024"}},
			Placement: &swarm.Placement{Constraints: []string{"node.id==n1"}},
			Networks:  []swarm.NetworkAttachmentConfig{{Target: "websoft9-app_default", Aliases: []string{"web"}}},
		},
		Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}},
		EndpointSpec: &swarm.EndpointSpec{Ports: []swarm.PortConfig{{TargetPort: 80, PublishedPort: 9001, PublishMode: swarm.PortConfigPublishModeHost, Protocol: "tcp"}}},
	}
}

func checkService(t *testing.T, p Policy, spec swarm.ServiceSpec) []Refusal {
	t.Helper()
	out, err := CheckService(t.Context(), p, known, known, presentImages{"stackhub-test/web:dev"}, "POST /services/create", &spec)
	require.NoError(t, err)
	return out
}

// service returns a case: okService changed by edit, checked.
func service(t *testing.T, edit func(*swarm.ServiceSpec)) func() []Refusal {
	return func() []Refusal {
		spec := okService()
		edit(&spec)
		return checkService(t, swarmPolicy(), spec)
	}
}

// placementCases break the placement rule: a service runs one task on
// the installation's node.
func placementCases(t *testing.T) []func() []Refusal {
	two := uint64(2)
	return []func() []Refusal{
		service(t, func(s *swarm.ServiceSpec) { s.TaskTemplate.Placement = nil }),
		service(t, func(s *swarm.ServiceSpec) { s.TaskTemplate.Placement.Constraints = []string{"node.id==n2"} }),
		service(t, func(s *swarm.ServiceSpec) { s.TaskTemplate.Placement.Constraints = []string{"node.hostname==b"} }),
		service(t, func(s *swarm.ServiceSpec) {
			s.TaskTemplate.Placement.Constraints = append(s.TaskTemplate.Placement.Constraints, "node.role==manager")
		}),
		service(t, func(s *swarm.ServiceSpec) {
			s.TaskTemplate.Placement.Preferences = []swarm.PlacementPreference{{Spread: &swarm.SpreadOver{SpreadDescriptor: "node.id"}}}
		}),
		service(t, func(s *swarm.ServiceSpec) { s.Mode = swarm.ServiceMode{Global: &swarm.GlobalService{}} }),
		service(t, func(s *swarm.ServiceSpec) { s.Mode = swarm.ServiceMode{ReplicatedJob: &swarm.ReplicatedJob{}} }),
		service(t, func(s *swarm.ServiceSpec) { s.Mode.Replicated.Replicas = &two }),
	}
}

// TestServiceRules: each rule a service spec can break, as a container's
// settings break it, and the swarm-only ones.
func TestServiceRules(t *testing.T) {
	tests := []struct {
		name string
		edit func(*swarm.ServiceSpec)
		rule string
	}{
		{"another installation's name", func(s *swarm.ServiceSpec) { s.Name = "websoft9-other" }, RuleObjectName},
		{"another installation's label", func(s *swarm.ServiceSpec) { s.Labels["sh.websoft9.app"] = "other" }, RuleForeign},
		{"another installation's label on the container", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Labels["sh.websoft9.app"] = "other"
		}, RuleForeign},
		{"another installation's network", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.Networks = []swarm.NetworkAttachmentConfig{{Target: "websoft9-other_default"}}
		}, RuleForeign},
		{"a network that does not exist", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.Networks = []swarm.NetworkAttachmentConfig{{Target: "ingress"}}
		}, RuleForeign},
		{"another installation's volume", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Mounts = []mount.Mount{{Type: mount.TypeVolume, Source: "websoft9-other_data", Target: "/d"}}
		}, RuleForeign},
		{"a volume outside its names", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Mounts = []mount.Mount{{Type: mount.TypeVolume, Source: "data", Target: "/d"}}
		}, RuleObjectName},
		{"a host bind mount", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Mounts = []mount.Mount{{Type: mount.TypeBind, Source: "/etc", Target: "/x"}}
		}, RuleBindMount},
		{"the Docker socket", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Mounts = []mount.Mount{{Type: mount.TypeBind, Source: "/var/run/docker.sock", Target: "/s"}}
		}, RuleDockerSocket},
		{"a volume driver", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Mounts = []mount.Mount{{Type: mount.TypeVolume, Source: "websoft9-app_x", Target: "/x",
				VolumeOptions: &mount.VolumeOptions{DriverConfig: &mount.Driver{Name: "rexray"}}}}
		}, RuleVolumeDriver},
		{"a capability", func(s *swarm.ServiceSpec) { s.TaskTemplate.ContainerSpec.CapabilityAdd = []string{"SYS_ADMIN"} }, RuleCapAdd},
		{"a host sysctl", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Sysctls = map[string]string{"kernel.panic": "1"}
		}, RuleSysctls},
		{"seccomp unconfined", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Privileges = &swarm.Privileges{Seccomp: &swarm.SeccompOpts{Mode: swarm.SeccompModeUnconfined}}
		}, RuleSecurityOpt},
		{"SELinux disabled", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Privileges = &swarm.Privileges{SELinuxContext: &swarm.SELinuxContext{Disable: true}}
		}, RuleSecurityOpt},
		{"a GPU", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.Resources = &swarm.ResourceRequirements{Reservations: &swarm.Resources{GenericResources: []swarm.GenericResource{
				{DiscreteResourceSpec: &swarm.DiscreteGenericResource{Kind: "gpu", Value: 1}}}}}
		}, RuleDevices},
		{"a plugin runtime", func(s *swarm.ServiceSpec) { s.TaskTemplate.Runtime = swarm.RuntimePlugin }, RuleRuntime},
		{"an image the bundle does not list and the manager lacks", func(s *swarm.ServiceSpec) { s.TaskTemplate.ContainerSpec.Image = "alpine:3" }, RuleImagePull},
		{"a port not reserved", func(s *swarm.ServiceSpec) { s.EndpointSpec.Ports[0].PublishedPort = 9002 }, RulePorts},
		{"a port Swarm picks", func(s *swarm.ServiceSpec) { s.EndpointSpec.Ports[0].PublishedPort = 0 }, RulePorts},
		{"the routing mesh", func(s *swarm.ServiceSpec) { s.EndpointSpec.Ports[0].PublishMode = swarm.PortConfigPublishModeIngress }, RulePorts},
		{"secrets", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Secrets = []*swarm.SecretReference{{SecretName: "db"}}
		}, RuleEndpoint},
		{"another installation's config", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Configs = []*swarm.ConfigReference{{ConfigID: "cfgidother", ConfigName: "websoft9-other_cfg-0123456789ab", File: cfgFile()}}
		}, RuleObjectName},
		{"another installation's config under an own name", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Configs = []*swarm.ConfigReference{{ConfigID: "cfgidother", ConfigName: "websoft9-app_cfg-0123456789ab", File: cfgFile()}}
		}, RuleForeign},
		{"a config nobody labelled", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Configs = []*swarm.ConfigReference{{ConfigName: "websoft9-app_unlabelled-0123456789ab", File: cfgFile()}}
		}, RuleForeign},
		{"a config that does not exist", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Configs = []*swarm.ConfigReference{{ConfigID: "nope", ConfigName: "websoft9-app_nope-0123456789ab", File: cfgFile()}}
		}, RuleForeign},
		{"a runtime config", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Configs = []*swarm.ConfigReference{{ConfigID: "cfgidapp", ConfigName: "websoft9-app_cfg-0123456789ab", Runtime: &swarm.ConfigReferenceRuntimeTarget{}}}
		}, RuleEndpoint},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := service(t, tc.edit)()
			require.NotEmpty(t, out, "allowed")
			var rules []string
			for _, r := range out {
				rules = append(rules, r.Rule)
				assert.NotEmpty(t, r.Detail)
			}
			assert.Contains(t, rules, tc.rule)
		})
	}
}

// TestServiceAllowed: what the websoft9 mixin's Swarm path asks for
// passes, images the manager has included; a stopped app's 0 replicas
// too; a run of an installation not placed on a node may create no
// service.
func TestServiceAllowed(t *testing.T) {
	assert.Empty(t, checkService(t, swarmPolicy(), okService()))
	spec := okService()
	spec.TaskTemplate.ContainerSpec.Image = "stackhub-test/web:dev"
	spec.Labels, spec.TaskTemplate.ContainerSpec.Labels = nil, nil // the socket adds them
	zero := uint64(0)
	spec.Mode.Replicated.Replicas = &zero
	assert.Empty(t, checkService(t, swarmPolicy(), spec))

	spec = okService()
	spec.TaskTemplate.ContainerSpec.Configs = []*swarm.ConfigReference{{ConfigID: "cfgidapp", ConfigName: "websoft9-app_cfg-0123456789ab", File: cfgFile()}}
	assert.Empty(t, checkService(t, swarmPolicy(), spec), "its own config, as a file")

	out := checkService(t, testPolicy, okService())
	require.Len(t, out, 1)
	assert.Equal(t, RuleEndpoint, out[0].Rule)
	assert.Contains(t, out[0].Detail, "not placed on a Swarm node")

	p := swarmPolicy()
	p.Granted = []string{"cap-add:SYS_ADMIN"}
	spec = okService()
	spec.TaskTemplate.ContainerSpec.CapabilityAdd = []string{"SYS_ADMIN"}
	assert.Empty(t, checkService(t, p, spec), "a grant lifts a rule for services as for containers")
}

// TestSwarmNetwork: an installation placed on a node may create its own
// overlay network, swarm-scoped; nothing else changes.
func TestSwarmNetwork(t *testing.T) {
	overlay := &network.CreateRequest{Name: "websoft9-app_default", Driver: "overlay", Scope: "swarm", Attachable: true}
	assert.Empty(t, CheckNetwork(swarmPolicy(), overlay))
	assert.NotEmpty(t, CheckNetwork(testPolicy, overlay), "not placed: no overlay")
	for _, req := range []*network.CreateRequest{
		{Name: "websoft9-other_default", Driver: "overlay", Scope: "swarm"},
		{Name: "websoft9-app_ingress", Driver: "overlay", Scope: "swarm", Ingress: true},
		{Name: "websoft9-app_x", Driver: "overlay", Scope: "swarm", ConfigOnly: true},
		{Name: "websoft9-app_x", Driver: "macvlan", Scope: "swarm"},
	} {
		assert.NotEmpty(t, CheckNetwork(swarmPolicy(), req), "%+v", req)
	}
}

func cfgFile() *swarm.ConfigReferenceFileTarget {
	return &swarm.ConfigReferenceFileTarget{Name: "/etc/app.conf", UID: "0", GID: "0", Mode: 0o444}
}

// TestCheckConfig: a run of an installation placed on a node may create
// configs named and labelled as its own, plain; nothing else.
func TestCheckConfig(t *testing.T) {
	own := func() *swarm.ConfigSpec {
		return &swarm.ConfigSpec{Annotations: swarm.Annotations{Name: "websoft9-app_cfg-0123456789ab", Labels: map[string]string{"sh.websoft9.app": "app"}}, Data: []byte("x")}
	}
	assert.Empty(t, CheckConfig(swarmPolicy(), own()))
	unlabelled := own()
	unlabelled.Labels = nil
	assert.Empty(t, CheckConfig(swarmPolicy(), unlabelled), "the socket labels it")
	for name, tc := range map[string]struct {
		p    Policy
		edit func(*swarm.ConfigSpec)
		rule string
	}{
		"not placed":                   {testPolicy, func(*swarm.ConfigSpec) {}, RuleEndpoint},
		"another installation's name":  {swarmPolicy(), func(c *swarm.ConfigSpec) { c.Name = "websoft9-other_cfg-0123456789ab" }, RuleObjectName},
		"a name outside its names":     {swarmPolicy(), func(c *swarm.ConfigSpec) { c.Name = "nginx.conf" }, RuleObjectName},
		"another installation's label": {swarmPolicy(), func(c *swarm.ConfigSpec) { c.Labels["sh.websoft9.app"] = "other" }, RuleForeign},
		"a template":                   {swarmPolicy(), func(c *swarm.ConfigSpec) { c.Templating = &swarm.Driver{Name: "golang"} }, RuleEndpoint},
	} {
		t.Run(name, func(t *testing.T) {
			spec := own()
			tc.edit(spec)
			out := CheckConfig(tc.p, spec)
			require.NotEmpty(t, out)
			assert.Equal(t, tc.rule, out[0].Rule)
			assert.NotEmpty(t, out[0].Detail)
		})
	}
}

// TestServiceVolumeHelperRefused: StackHub's node volume helper spec
// (dockerhost.NodeVolumes: image stackhub/volumes:1, the node's Docker
// socket or an app's volume, a name and labels of its own), asked for by
// a bundle through its policed socket, is refused: the socket, host
// binds and foreign names stay refused whatever the image. Only StackHub's
// own client creates it.
func TestServiceVolumeHelperRefused(t *testing.T) {
	one := uint64(1)
	helper := func(mounts []mount.Mount) swarm.ServiceSpec {
		return swarm.ServiceSpec{
			Annotations: swarm.Annotations{Name: "stackhub-volumes-0123abcd", Labels: map[string]string{"sh.websoft9.volume-helper": "app"}},
			Mode:        swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}},
			TaskTemplate: swarm.TaskSpec{
				ContainerSpec: &swarm.ContainerSpec{Image: "stackhub/volumes:1", Args: []string{"remove", "http://10.0.0.1:1/v1/transfers/x", "other"},
					Labels: map[string]string{"sh.websoft9.volume-helper": "app"}, Mounts: mounts},
				Placement:     &swarm.Placement{Constraints: []string{"node.id==n1"}},
				RestartPolicy: &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionNone},
			},
		}
	}
	for name, tc := range map[string]struct {
		mounts []mount.Mount
		rule   string
	}{
		"the node's Docker socket": {[]mount.Mount{{Type: mount.TypeBind, Source: "/var/run/docker.sock", Target: "/var/run/docker.sock"}}, RuleDockerSocket},
		"a socket elsewhere":       {[]mount.Mount{{Type: mount.TypeBind, Source: "/run/docker.sock", Target: "/var/run/docker.sock"}}, RuleDockerSocket},
		"a host bind":              {[]mount.Mount{{Type: mount.TypeBind, Source: "/var/lib/docker/volumes", Target: "/volumes"}}, RuleBindMount},
		"another app's volume":     {[]mount.Mount{{Type: mount.TypeVolume, Source: "websoft9-other_data", Target: "/volumes/data"}}, RuleForeign},
	} {
		t.Run(name, func(t *testing.T) {
			p := swarmPolicy()
			out, err := CheckService(t.Context(), p, known, nil, presentImages{"stackhub/volumes:1"}, "POST /services/create", ptr(helper(tc.mounts)))
			require.NoError(t, err)
			var rules []string
			for _, r := range out {
				rules = append(rules, r.Rule)
			}
			assert.Contains(t, rules, tc.rule, "%v", out)
			assert.Contains(t, rules, RuleObjectName, "a name that is not the installation's")
		})
	}
}

func ptr[T any](v T) *T { return &v }
