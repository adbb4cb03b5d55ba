package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Config is the server's configuration, read once from flags and env.
type Config struct {
	Listen      string
	DataDir     string
	BundlesDir  string
	RuntimesDir string
	// ShutdownTimeout bounds the wait for running jobs on shutdown.
	ShutdownTimeout time.Duration
	LogLevel        string
	// TLSCert and TLSKey, both or neither, make the server speak TLS.
	TLSCert string
	TLSKey  string
	// TrustedProxies are CIDRs of reverse proxies whose X-Forwarded-For is
	// believed for the client address (rate limits); none by default.
	TrustedProxies []string
}

// DefaultConfig returns the defaults documented in the README.
func DefaultConfig() Config {
	return Config{
		Listen:          "127.0.0.1:9000",
		DataDir:         "/var/lib/stackhub",
		BundlesDir:      "bundles",
		RuntimesDir:     executableDir(),
		ShutdownTimeout: 30 * time.Second,
		LogLevel:        "info",
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
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if _, err := c.trustedNets(); err != nil {
		return err
	}
	for _, p := range []*string{&c.DataDir, &c.BundlesDir, &c.RuntimesDir} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	if st, err := os.Stat(c.BundlesDir); err != nil || !st.IsDir() {
		return fmt.Errorf("--bundles %s is not a directory", c.BundlesDir)
	}
	return nil
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
