package ocibundle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"

	"github.com/cnabio/cnab-to-oci/remotes"
	cremotes "github.com/containerd/containerd/v2/core/remotes"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	remoteerrors "github.com/containerd/containerd/v2/core/remotes/errors"
	cerrdefs "github.com/containerd/errdefs"
	clog "github.com/containerd/log"
	"github.com/distribution/reference"
	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/sirupsen/logrus"

	"github.com/websoft9/stackhub/orchestrator"
)

// Registry says how to reach registries: where the Docker client
// configuration (credentials) lives and which registries speak plain HTTP.
// The zero value uses ~/.docker/config.json (or $DOCKER_CONFIG) and TLS
// everywhere but on loopback addresses, which cnab-to-oci and
// go-containerregistry always reach over plain HTTP.
type Registry struct {
	// ConfigDir is the Docker client configuration directory; "" means
	// $DOCKER_CONFIG or ~/.docker. Credentials come from its config.json
	// auths and the credential helpers (credsStore, credHelpers) it names.
	ConfigDir string
	// Insecure names the registries (host or host:port, as in a
	// reference) that may be reached over plain HTTP or TLS with an
	// unverified certificate; every other registry needs verified TLS.
	Insecure []string
}

// insecure reports whether host is one of the registries named Insecure.
func (r Registry) insecure(host string) bool {
	return slices.ContainsFunc(r.Insecure, func(h string) bool { return strings.EqualFold(h, host) })
}

// quiet returns ctx with a containerd logger that discards: cnab-to-oci and
// containerd's resolver log each failed lookup (a 404 is expected while
// checking whether a tag exists); the errors they return carry the story.
func quiet(ctx context.Context) context.Context {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return clog.WithLogger(ctx, logrus.NewEntry(l))
}

// client is the per-call view of a registry: cnab-to-oci's resolver and
// go-containerregistry's options, built from the same credentials.
type client struct {
	resolver cremotes.Resolver
	remote   []remote.Option
	reg      Registry
}

// parse parses an image reference for go-containerregistry, insecure only
// when its registry is among those named insecure.
func (c *client) parse(ref string) (name.Reference, error) {
	r, err := name.ParseReference(ref)
	if err != nil || !c.reg.insecure(r.Context().RegistryStr()) {
		return r, err
	}
	return name.ParseReference(ref, name.Insecure)
}

// connect loads the Docker configuration and builds the clients; the
// registries named Insecure (ref's among them, for cnab-to-oci) may be
// plain HTTP. ref may be nil.
func (r Registry) connect(ctx context.Context, ref reference.Named) (*client, error) {
	cfg, err := config.Load(r.ConfigDir)
	if err != nil {
		return nil, orchestrator.WrapError(orchestrator.EINVALID, err, "read the Docker client configuration")
	}
	var insecure []string
	if ref != nil && r.insecure(reference.Domain(ref)) {
		insecure = append(insecure, reference.Domain(ref))
	}
	return &client{
		resolver: remotes.CreateResolver(cfg, insecure...),
		remote:   []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(keychain{cfg})},
		reg:      r,
	}, nil
}

// keychain gives go-containerregistry the credentials cnab-to-oci's
// resolver gets from the same configuration file.
type keychain struct{ cfg *configfile.ConfigFile }

func (k keychain) Resolve(res authn.Resource) (authn.Authenticator, error) {
	host := res.RegistryStr()
	if host == name.DefaultRegistry || host == "docker.io" {
		host = "https://index.docker.io/v1/"
	}
	a, err := k.cfg.GetAuthConfig(host)
	if err != nil {
		return nil, fmt.Errorf("credentials for %s: %w", res.RegistryStr(), err)
	}
	if a.Username == "" && a.Password == "" && a.IdentityToken == "" && a.RegistryToken == "" {
		return authn.Anonymous, nil
	}
	return authn.FromConfig(authn.AuthConfig{
		Username: a.Username, Password: a.Password,
		IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken,
	}), nil
}

// parseRef parses a bundle reference; without tag or digest it gets tag
// "latest" as docker pull does. Returns EINVALID for a malformed reference.
func parseRef(raw string) (reference.Named, error) {
	named, err := reference.ParseNormalizedNamed(strings.TrimSpace(raw))
	if err != nil {
		return nil, orchestrator.WrapError(orchestrator.EINVALID, err, "%q is not a valid OCI reference", raw)
	}
	return reference.TagNameOnly(named), nil
}

// classify turns a registry failure into a domain error whose message is
// subject (the step and the reference, e.g. "pull host/repo:tag") and what
// happened. It recognises errors by type (containerd's resolver,
// go-containerregistry's transport, the net package), never by text;
// anything else becomes fallbackCode with fallbackMsg, or a plain wrapped
// error when fallbackCode is "". Messages never hold credentials.
func classify(err error, subject, fallbackCode, fallbackMsg string) error {
	if err == nil {
		return nil
	}
	if e, ok := errors.AsType[*orchestrator.Error](err); ok {
		return e
	}
	status := 0
	if e, ok := errors.AsType[remoteerrors.ErrUnexpectedStatus](err); ok {
		status = e.StatusCode
	}
	if e, ok := errors.AsType[*transport.Error](err); ok {
		status = e.StatusCode
	}
	switch {
	case errors.Is(err, docker.ErrInvalidAuthorization), status == http.StatusUnauthorized, status == http.StatusForbidden:
		return orchestrator.WrapError(orchestrator.EUNAUTHORIZED, err,
			"%s: the registry refused the credentials (docker login to its host, or set DOCKER_CONFIG)", subject)
	case cerrdefs.IsNotFound(err), status == http.StatusNotFound:
		return orchestrator.WrapError(orchestrator.ENOTFOUND, err, "%s: no such repository or tag in the registry", subject)
	case isUnreachable(err), status >= 500:
		return orchestrator.WrapError(orchestrator.EUNAVAILABLE, err, "%s: the registry does not answer", subject)
	case fallbackCode != "":
		return orchestrator.WrapError(fallbackCode, err, "%s: %s", subject, fallbackMsg)
	}
	return fmt.Errorf("%s: %w", subject, err)
}

// isUnreachable tells whether err is a failure to reach a host at all.
func isUnreachable(err error) bool {
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	if _, ok := errors.AsType[*net.OpError](err); ok {
		return true
	}
	if _, ok := errors.AsType[*net.DNSError](err); ok {
		return true
	}
	return false
}
