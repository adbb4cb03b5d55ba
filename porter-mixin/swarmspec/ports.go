package swarmspec

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
)

// ports returns the service's published ports, each in host mode (on the
// app's node only: the routing mesh would publish it on every node), and
// the loopback ports OmitLoopbackPorts leaves out.
//
// Swarm cannot bind a port to one address of a node. A binding on every
// address (none given, 0.0.0.0 or ::) is published as it is; one on a
// loopback address is refused or left out (Options.LoopbackPorts); one
// on any other address is refused.
func (c *converter) ports(k *check, s types.ServiceConfig) ([]swarm.PortConfig, []UnpublishedPort) {
	var out []swarm.PortConfig
	var unpublished []UnpublishedPort
	for i, p := range s.Ports {
		key := fmt.Sprintf("ports[%d]", i)
		k.refuse(p, key+".", portRules)
		proto := strings.ToLower(p.Protocol)
		switch proto {
		case "":
			proto = string(network.TCP)
		case string(network.TCP), string(network.UDP), string(network.SCTP):
		default:
			k.add(key+".protocol", fmt.Sprintf("unknown protocol %q (tcp, udp or sctp)", p.Protocol))
			continue
		}
		published, why := publishedPort(p.Published)
		if why != "" {
			k.add(key+".published", why)
			continue
		}
		if p.HostIP != "" {
			addr, err := netip.ParseAddr(p.HostIP)
			switch {
			case err != nil:
				k.add(key+".host_ip", fmt.Sprintf("%q is not an IP address", p.HostIP))
				continue
			case addr.IsUnspecified():
			case addr.IsLoopback() && c.opts.LoopbackPorts == OmitLoopbackPorts:
				unpublished = append(unpublished, UnpublishedPort{Service: s.Name, HostIP: p.HostIP, Published: published, Target: p.Target, Protocol: proto})
				continue
			case addr.IsLoopback():
				k.add(key+".host_ip", fmt.Sprintf("Swarm publishes a port on every address of the node and cannot bind %s only; publishing %d on every address would expose it (OmitLoopbackPorts leaves it unpublished, reachable on the app's network)", p.HostIP, published))
				continue
			default:
				k.add(key+".host_ip", fmt.Sprintf("Swarm publishes a port on every address of the node and cannot bind %s only", p.HostIP))
				continue
			}
		}
		out = append(out, swarm.PortConfig{
			Name: p.Name, Protocol: network.IPProtocol(proto), TargetPort: p.Target,
			PublishedPort: published, PublishMode: swarm.PortConfigPublishModeHost,
		})
	}
	return out, unpublished
}

// publishedPort parses compose's published port: empty (the node's
// engine picks one), a port, or a range of one port. A wider range, from
// which compose picks a free port, has no Swarm equivalent.
func publishedPort(s string) (uint32, string) {
	if s == "" {
		return 0, ""
	}
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := strconv.ParseUint(lo, 10, 16)
	if err != nil {
		return 0, fmt.Sprintf("%q is not a port", s)
	}
	if isRange {
		b, err := strconv.ParseUint(hi, 10, 16)
		if err != nil {
			return 0, fmt.Sprintf("%q is not a port range", s)
		}
		if a != b {
			return 0, fmt.Sprintf("a range of host ports (%s) lets compose pick a free one; Swarm publishes the port it is given: give one", s)
		}
	}
	return uint32(a), ""
}
