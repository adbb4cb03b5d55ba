package orchestrator

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/idna"
)

// Console is the installation name a domain of the console itself has.
const Console = ""

// Domain is a host name StackHub's gateway serves, for an app or for the
// console.
type Domain struct {
	// Name is the host name in its ASCII form (xn-- for IDN), lower case,
	// without a trailing dot.
	Name string
	// Installation is the app it goes to (Console: the console).
	Installation string
	// Port is the app's port parameter the gateway sends the requests to
	// (the bundle's web port unless asked otherwise).
	Port string
	// PathPrefix, when set ("/wiki"), sends only the paths under it.
	PathPrefix string
	// NoRedirect keeps plain HTTP answering instead of redirecting it to
	// HTTPS.
	NoRedirect bool
	// MaxBodyBytes limits a request's body.
	MaxBodyBytes int64
	Created      time.Time
	// Certificate is where its certificate is, as the gateway last said.
	Certificate Certificate
	// Rebind is the upgrade run that publishes the app's web port anew
	// (on the loopback once it has a domain, everywhere when its last one
	// goes); not stored.
	Rebind string
	// Upstream is where the gateway sends the domain's requests now
	// (host:port; "" for the console or while the app has no port); not
	// stored.
	Upstream string
	// Exposed is, for an app placed on a Swarm node, the address its web
	// port also answers at without the gateway (the node's address):
	// Swarm publishes a port on every address of its node or not at all,
	// so such an app's web port is not moved to the loopback when it gets
	// a domain. "" when only the gateway reaches it (the single host, a
	// bundle publishing its web port on the loopback). Not stored.
	Exposed string
}

// DefaultMaxBody is the largest request body a domain takes unless it says
// otherwise.
const DefaultMaxBody = 100 << 20

// Certificate states.
const (
	CertPending = "pending" // not obtained yet
	CertValid   = "valid"   // served
	CertFailed  = "failed"  // the last attempt failed; retried with backoff
)

// Certificate is the state of a domain's certificate.
type Certificate struct {
	State string
	// Issuer is the CA's name or URL ("internal": StackHub's own CA).
	Issuer string
	// Error is the CA's (or the challenge's) error of the last attempt.
	Error    string
	NotAfter time.Time
	// Attempts counts the failures since the last success.
	Attempts int
	Updated  time.Time
}

// Route is what the gateway serves for a domain.
type Route struct {
	Domain       string
	PathPrefix   string
	Installation string
	// Upstream is host:port of the app's published web port ("" for the
	// console, or while the app has none).
	Upstream     string
	NoRedirect   bool
	MaxBodyBytes int64
}

// DomainStore keeps domains and their certificates' states.
type DomainStore interface {
	// AddDomain stores d. Returns ECONFLICT when its name is taken.
	AddDomain(ctx context.Context, d Domain) error
	// Domains returns the domains of installation, or all with all.
	Domains(ctx context.Context, installation string, all bool) ([]Domain, error)
	// RemoveDomain removes domain name. Returns ENOTFOUND.
	RemoveDomain(ctx context.Context, name string) error
	// RemoveDomains removes installation's domains and returns them.
	RemoveDomains(ctx context.Context, installation string) ([]string, error)
	// SetCertificate records name's certificate state (no error when the
	// domain is gone).
	SetCertificate(ctx context.Context, name string, c Certificate) error
}

// maxDomainLength is DNS's limit on a name.
const maxDomainLength = 253

// NormalizeDomain returns host name s as the gateway compares it: IDN in
// its ASCII form, lower case, no trailing dot. It refuses ports, IP
// addresses, wildcards (a later step: DNS-01) and what DNS does not allow.
func NormalizeDomain(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", Errorf(EINVALID, "a domain is needed")
	}
	if strings.ContainsAny(s, ":/ @?#[]") {
		return "", Errorf(EINVALID, "%q is not a host name: give the name alone, without port, scheme or path", s)
	}
	if strings.Contains(s, "*") {
		return "", Errorf(EINVALID, "%q: wildcard domains need DNS-01, which StackHub does not do yet", s)
	}
	name := strings.TrimSuffix(s, ".")
	if _, err := netip.ParseAddr(name); err == nil {
		return "", Errorf(EINVALID, "%q is an IP address: certificates are issued for names", s)
	}
	ascii, err := idna.Lookup.ToASCII(name)
	if err != nil {
		return "", WrapError(EINVALID, err, "%q is not a valid host name: %v", s, err)
	}
	ascii = strings.ToLower(ascii)
	if len(ascii) > maxDomainLength {
		return "", Errorf(EINVALID, "%q is longer than DNS allows (253)", s)
	}
	for label := range strings.SplitSeq(ascii, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") ||
			strings.IndexFunc(label, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') }) >= 0 {
			return "", Errorf(EINVALID, "%q is not a valid host name (labels of letters, digits and inner hyphens, at most 63 each)", s)
		}
	}
	if !strings.Contains(ascii, ".") && ascii != "localhost" {
		return "", Errorf(EINVALID, "%q has no dot: give a fully qualified name (blog.example.com)", s)
	}
	return ascii, nil
}

// HostOf returns the name a request's Host header (or a TLS server name)
// gives, normalized as NormalizeDomain does, a port dropped; "" when it is
// no valid name.
func HostOf(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	name, err := NormalizeDomain(host)
	if err != nil {
		return ""
	}
	return name
}

// DomainRequest adds a domain to an app.
type DomainRequest struct {
	Domain string
	// Port is the app's port parameter (default: its web port).
	Port         string
	PathPrefix   string
	NoRedirect   bool
	MaxBodyBytes int64
}

// webPort returns the port parameter app's web traffic goes to: the one
// its bundle declares (custom.sh.websoft9.web.port), else its first.
func webPort(app App) string {
	if app.Web.Port != "" {
		return app.Web.Port
	}
	if len(app.Ports) > 0 {
		return app.Ports[0].Name
	}
	return ""
}

// AddDomain gives installation a domain: the gateway obtains its
// certificate and sends its requests to the app. Returns EINVALID,
// ENOTFOUND, ECONFLICT (taken, by another app or the console) and
// EUNAVAILABLE when StackHub runs without a gateway.
func (e *Engine) AddDomain(ctx context.Context, installation string, req DomainRequest) (Domain, error) {
	if e.d.Domains == nil {
		return Domain{}, Errorf(EUNAVAILABLE, "this server runs without its gateway (serve --gateway): domains are not served")
	}
	name, err := NormalizeDomain(req.Domain)
	if err != nil {
		return Domain{}, err
	}
	d := Domain{Name: name, Installation: installation, Port: req.Port, NoRedirect: req.NoRedirect, MaxBodyBytes: cmp.Or(req.MaxBodyBytes, DefaultMaxBody),
		Created: e.d.Now(), Certificate: Certificate{State: CertPending, Updated: e.d.Now()}}
	if req.PathPrefix != "" && req.PathPrefix != "/" {
		p := "/" + strings.Trim(req.PathPrefix, "/")
		if strings.ContainsAny(p, "?#%\\ ") || strings.Contains(p, "//") || strings.Contains(p, "/../") || strings.HasSuffix(p, "/..") {
			return Domain{}, Errorf(EINVALID, "path prefix %q: a plain path such as /wiki", req.PathPrefix)
		}
		d.PathPrefix = p
	}
	if req.MaxBodyBytes < 0 {
		return Domain{}, Errorf(EINVALID, "maxBodyBytes must not be negative")
	}
	if installation != Console {
		inst, err := e.d.Installations.Installation(ctx, installation)
		if err != nil {
			return Domain{}, err
		}
		if !inst.State.Live() {
			return Domain{}, Errorf(ECONFLICT, "%s is %s: a domain goes to an installed app", installation, inst.State)
		}
		app, err := e.installedBundle(ctx, inst)
		if err != nil {
			// Its bundle is not kept: the catalog's says where the web is.
			if app, err = e.d.Catalog.App(ctx, inst.App); err != nil {
				return Domain{}, err
			}
		}
		if d.Port == "" {
			d.Port = webPort(app)
		}
		if d.Port == "" || !slices.ContainsFunc(inst.Ports, func(p PortBinding) bool { return p.Param == d.Port }) {
			return Domain{}, Errorf(EINVALID, "%s has no port parameter %q to send a domain's requests to", installation, d.Port)
		}
	} else if d.Port != "" {
		return Domain{}, Errorf(EINVALID, "the console's domain takes no port")
	}
	if err := e.d.Domains.AddDomain(ctx, d); err != nil {
		return Domain{}, err
	}
	if installation != Console {
		run, err := e.rebind(ctx, installation)
		if err != nil {
			// Nothing half done: the domain goes again.
			return Domain{}, errors.Join(err, e.d.Domains.RemoveDomain(context.WithoutCancel(ctx), d.Name))
		}
		d.Rebind = run
		if inst, err := e.d.Installations.Installation(ctx, installation); err == nil {
			d.Upstream, d.Exposed = e.upstream(inst, d.Port)
		}
	}
	e.routesChanged()
	return d, nil
}

// upstream returns where the gateway reaches port parameter param of inst
// and where that port answers without the gateway too ("" when only on the
// loopback). An app on the single host is reached on the loopback (the
// gateway runs on the engine's host). An app placed on a Swarm node, the
// node StackHub runs on included, is reached at the node's address as the
// manager sees it now (as placed, while the manager's view is not known):
// a Swarm publishes a host-mode port on every address of its node, never
// on a loopback alone (swarmspec leaves a loopback port unpublished), so
// its web port stays published there, domain or not.
func (e *Engine) upstream(inst Installation, param string) (upstream, exposed string) {
	p := inst.Port(param)
	if p <= 0 {
		return "", ""
	}
	if !inst.Node.OnSwarm() {
		return fmt.Sprintf("127.0.0.1:%d", p), ""
	}
	place := inst.Node
	if e.d.Nodes != nil {
		if n, ok := e.d.Nodes.SwarmNode(place.NodeID); ok && n.State != NodeRemoved && nodeHost(n) != "" {
			place.Addr = nodeHost(n)
		}
	}
	a := place.Address(p)
	return a, a
}

// rebind starts the upgrade that publishes installation's web port where
// its domains want it (see modifyParameters) when it is elsewhere, and
// returns the run ("" when none is needed, or the bundle has no address
// parameter). It does not upgrade to another version: an installation
// behind the catalog gets its new address at its next upgrade.
func (e *Engine) rebind(ctx context.Context, installation string) (string, error) {
	inst, err := e.d.Installations.Installation(ctx, installation)
	if err != nil {
		return "", err
	}
	app, err := e.d.Catalog.App(ctx, inst.App)
	if err != nil || app.Web.Address == "" || app.Version != inst.Version {
		return "", nil
	}
	ds, err := e.d.Domains.Domains(ctx, installation, false)
	if err != nil {
		return "", err
	}
	want := AnyAddress
	if len(ds) > 0 && !inst.Node.OnSwarm() {
		want = LoopbackAddress
	}
	last, err := e.d.Runs.LastParameters(ctx, installation)
	if err != nil && ErrorCode(err) != ENOTFOUND {
		return "", err
	}
	if have, _ := last[app.Web.Address].(string); have == want || have == "" && want == AnyAddress {
		return "", nil
	}
	run, err := e.Upgrade(ctx, UpgradeRequest{Name: installation})
	if err != nil {
		return "", fmt.Errorf("publish %s's web port on %s: %w", installation, want, err)
	}
	e.log.Info("publishing an app's web port anew for its domains", "installation", installation, "address", want, "run", run.ID)
	return run.ID, nil
}

// Domains returns installation's domains (Console: the console's).
func (e *Engine) Domains(ctx context.Context, installation string) ([]Domain, error) {
	if e.d.Domains == nil {
		return []Domain{}, nil
	}
	var inst Installation
	if installation != Console {
		var err error
		if inst, err = e.d.Installations.Installation(ctx, installation); err != nil {
			return nil, err
		}
	}
	list, err := e.d.Domains.Domains(ctx, installation, false)
	if err != nil || installation == Console {
		return list, err
	}
	for i := range list {
		list[i].Upstream, list[i].Exposed = e.upstream(inst, list[i].Port)
	}
	return list, nil
}

// RemoveDomain takes domain name from installation and returns the
// upgrade run that publishes its web port everywhere again when it was
// its last ("" when none runs).
func (e *Engine) RemoveDomain(ctx context.Context, installation, name string) (string, error) {
	if e.d.Domains == nil {
		return "", Errorf(ENOTFOUND, "no domain %s", name)
	}
	n, err := NormalizeDomain(name)
	if err != nil {
		return "", err
	}
	list, err := e.d.Domains.Domains(ctx, installation, false)
	if err != nil {
		return "", err
	}
	if !slices.ContainsFunc(list, func(d Domain) bool { return d.Name == n }) {
		return "", Errorf(ENOTFOUND, "%s has no domain %s", nameOrConsole(installation), n)
	}
	if err := e.d.Domains.RemoveDomain(ctx, n); err != nil {
		return "", err
	}
	e.routesChanged()
	if installation == Console {
		return "", nil
	}
	// The last domain gone: the web port is published everywhere again.
	return e.rebind(ctx, installation)
}

func nameOrConsole(installation string) string {
	if installation == Console {
		return "the console"
	}
	return installation
}

// Routes returns what the gateway serves: every domain, to its app's
// published port on the loopback (the gateway runs on the engine's host)
// or, for an app placed on a Swarm node, at its node's address (upstream).
// The gateway loads them again when a domain changes and when a run of an
// app with a domain ends (see finish), so a reinstall elsewhere is
// followed.
func (e *Engine) Routes(ctx context.Context) ([]Route, error) {
	if e.d.Domains == nil {
		return nil, nil
	}
	list, err := e.d.Domains.Domains(ctx, "", true)
	if err != nil {
		return nil, err
	}
	out := make([]Route, 0, len(list))
	for _, d := range list {
		r := Route{Domain: d.Name, PathPrefix: d.PathPrefix, Installation: d.Installation, NoRedirect: d.NoRedirect, MaxBodyBytes: d.MaxBodyBytes}
		if d.Installation != Console {
			inst, err := e.d.Installations.Installation(ctx, d.Installation)
			if err == nil && inst.State.Live() {
				r.Upstream, _ = e.upstream(inst, d.Port)
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// SetCertificate records what the gateway says of a domain's certificate.
func (e *Engine) SetCertificate(ctx context.Context, name string, c Certificate) error {
	if e.d.Domains == nil {
		return nil
	}
	c.Updated = e.d.Now()
	return e.d.Domains.SetCertificate(ctx, name, c)
}

// routesChanged tells the gateway to load the routes again.
func (e *Engine) routesChanged() {
	if e.d.RoutesChanged != nil {
		e.d.RoutesChanged()
	}
}

// dropDomains removes an uninstalled app's domains: the gateway stops
// serving them (their certificates stay in its storage until they expire).
func (e *Engine) dropDomains(ctx context.Context, installation string) {
	if e.d.Domains == nil {
		return
	}
	gone, err := e.d.Domains.RemoveDomains(ctx, installation)
	if err != nil {
		e.log.Warn("remove the domains of an uninstalled app", "installation", installation, "err", err)
		return
	}
	if len(gone) > 0 {
		e.log.Info("removed the domains of an uninstalled app", "installation", installation, "domains", gone)
		e.routesChanged()
	}
}
