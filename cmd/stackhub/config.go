package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Config is the server's configuration, read once from flags and env.
type Config struct {
	Listen  string
	DataDir string
	// BundlesDir is a catalog directory to serve instead of the catalog
	// embedded in the binary ("").
	BundlesDir  string
	RuntimesDir string
	// RelocationMapping is a JSON file mapping bundle image references to
	// the references to run instead (CNAB relocation mapping), or "";
	// Validate reads it into relocation.
	RelocationMapping string
	relocation        map[string]string
	// CatalogRefs are bundles in OCI registries added to the catalog at
	// start (REGISTRY/REPO:TAG), besides any pulled or imported later.
	CatalogRefs []string
	// NodeTransfers is where the volume helper tasks on other Swarm nodes
	// reach StackHub (host:port): "" listens on the manager's advertise
	// address, on a port the system picks, at the first transfer.
	NodeTransfers string
	// InsecureRegistry names the registries (HOST or HOST:PORT) of bundle
	// references that may be reached over plain HTTP; every other one
	// needs verified TLS (loopback ones always may be plain).
	InsecureRegistry []string
	// DockerTimeout bounds each Docker call that is not a wait or a
	// stream: a stalled dockerd fails the operation after it.
	DockerTimeout time.Duration
	// ShutdownTimeout bounds the wait for running jobs on shutdown.
	ShutdownTimeout time.Duration
	LogLevel        string
	// LogFormat is the log's format: text (the default) or json.
	LogFormat string
	// MetricsPublic serves GET /metrics without credentials (a scraper on
	// a trusted network); by default it needs a token like any read.
	MetricsPublic bool
	// TLSCert and TLSKey, both or neither, make the server speak TLS.
	TLSCert string
	TLSKey  string
	// TrustedProxies are CIDRs of reverse proxies whose X-Forwarded-For is
	// believed for the client address (rate limits); none by default.
	TrustedProxies []string
	// RequireTOTP makes a second factor required of every user.
	RequireTOTP bool
	// DebugRuntime serves GET /api/v1/debug/runtime (hidden flag, for make load).
	DebugRuntime bool
	// Gateway serves apps' (and the console's) domains on GatewayHTTP and
	// GatewayHTTPS, with certificates from the ACME directory ACMECA
	// (Let's Encrypt by default; ACMECARoots trusts a private one's TLS)
	// or, with TLSInternal, from an internal CA.
	Gateway                   bool
	GatewayHTTP, GatewayHTTPS string
	ACMECA, ACMECARoots       string
	ACMEEmail                 string
	TLSInternal               bool
}

// DefaultConfig returns the defaults documented in the README.
func DefaultConfig() Config {
	return Config{
		Listen:          "127.0.0.1:9000",
		DataDir:         "/var/lib/stackhub",
		BundlesDir:      "",
		RuntimesDir:     executableDir(),
		ShutdownTimeout: 30 * time.Second,
		DockerTimeout:   time.Minute,
		LogLevel:        "info",
		LogFormat:       "text",
		GatewayHTTP:     ":80",
		GatewayHTTPS:    ":443",
	}
}

// Validate checks the configuration and makes paths absolute.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("--listen %q: %w", c.Listen, err)
	}
	if c.DataDir == "" {
		return errors.New("--data-dir is required")
	}
	if c.DockerTimeout <= 0 {
		return fmt.Errorf("--docker-timeout %s: want a positive duration", c.DockerTimeout)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("--log-format %q: want text or json", c.LogFormat)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if _, err := c.trustedNets(); err != nil {
		return err
	}
	if c.Gateway {
		for _, a := range []string{c.GatewayHTTP, c.GatewayHTTPS} {
			if _, _, err := net.SplitHostPort(a); err != nil {
				return fmt.Errorf("--gateway-http/--gateway-https %q: %w", a, err)
			}
		}
		if c.TLSInternal && (c.ACMECA != "" || c.ACMECARoots != "") {
			return errors.New("--tls-internal signs certificates itself: no --acme-ca nor --acme-ca-roots with it")
		}
	}
	for _, p := range []*string{&c.DataDir, &c.BundlesDir, &c.RuntimesDir, &c.RelocationMapping, &c.ACMECARoots} {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	if c.BundlesDir != "" {
		if st, err := os.Stat(c.BundlesDir); err != nil || !st.IsDir() {
			return fmt.Errorf("--bundles %s is not a directory", c.BundlesDir)
		}
	}
	var err error
	c.relocation, err = c.readRelocation()
	return err
}

// executableDir is where the in-image runtimes are looked up by default:
// make build puts them beside stackhub in bin/.
func executableDir() string {
	exe, err := os.Executable()
	if err != nil {
		return "."
	}
	return filepath.Dir(exe)
}

// trustedNets parses TrustedProxies.
func (c *Config) trustedNets() ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, cidr := range c.TrustedProxies {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			return nil, fmt.Errorf("--trusted-proxy %q: %w", cidr, err)
		}
		out = append(out, n)
	}
	return out, nil
}

// readRelocation reads the relocation mapping file: a JSON object of
// original image reference → reference to run instead.
func (c *Config) readRelocation() (map[string]string, error) {
	if c.RelocationMapping == "" {
		return nil, nil
	}
	data, err := os.ReadFile(c.RelocationMapping)
	if err != nil {
		return nil, fmt.Errorf("--relocation-mapping: %w", err)
	}
	var m map[string]string
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("--relocation-mapping %s: want a JSON object of image reference to image reference: %w", c.RelocationMapping, err)
	}
	for from, to := range m {
		if from == "" || to == "" || strings.ContainsAny(from+to, " \t\n") {
			return nil, fmt.Errorf("--relocation-mapping %s: %q → %q is not a pair of image references", c.RelocationMapping, from, to)
		}
	}
	return m, nil
}
