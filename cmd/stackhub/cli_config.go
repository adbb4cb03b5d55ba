package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// defaultServerURL is where the operator commands look for a server when
// nothing says otherwise: stackhub serve's default --listen.
const defaultServerURL = "http://127.0.0.1:9000"

// cliConfig is the operator commands' config file:
//
//	{"url": "https://stackhub.example.com", "token": "shk_…"}
type cliConfig struct {
	URL   string `json:"url"`
	Token string `json:"token"`
}

// remote is the server a command talks to and the token it sends.
type remote struct {
	URL   string
	Token string
}

// resolveRemote picks the server URL and the token, each on its own: the
// flag, else STACKHUB_URL / STACKHUB_TOKEN, else the config file (read
// only when a flag and the environment leave something open), else
// defaultServerURL for the URL. The URL may leave out http://. Returns a
// usage error for a bad URL or config file.
func resolveRemote(flagURL, flagToken string, getenv env) (remote, error) {
	r := remote{URL: firstOf(flagURL, getenv("STACKHUB_URL")), Token: firstOf(flagToken, getenv("STACKHUB_TOKEN"))}
	if r.URL == "" || r.Token == "" {
		if p := cliConfigPath(getenv); p != "" {
			cfg, err := loadCLIConfig(p)
			if err != nil {
				return remote{}, usageError(err)
			}
			r.URL, r.Token = firstOf(r.URL, cfg.URL), firstOf(r.Token, cfg.Token)
		}
	}
	u, err := normalizeServerURL(firstOf(r.URL, defaultServerURL))
	if err != nil {
		return remote{}, usageError(err)
	}
	r.URL = u
	return r, nil
}

// cliConfigPath is STACKHUB_CONFIG, else $XDG_CONFIG_HOME/stackhub/config.json,
// else ~/.config/stackhub/config.json; "" when there is no home.
func cliConfigPath(getenv env) string {
	if p := getenv("STACKHUB_CONFIG"); p != "" {
		return p
	}
	if d := getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "stackhub", "config.json")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".config", "stackhub", "config.json")
	}
	return ""
}

// loadCLIConfig reads the config file at path; a missing file is an empty
// config. Because it holds a token, a file that group or others may read
// or write is refused, as are unknown fields.
func loadCLIConfig(path string) (cliConfig, error) {
	var cfg cliConfig
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return cfg, fmt.Errorf("config file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return cfg, fmt.Errorf("config file %s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return cfg, fmt.Errorf("config file %s has mode %04o: it holds a token, so group and others must have no access; run chmod 600 %s", path, perm, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("config file: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return cfg, fmt.Errorf("config file %s: %w (want {\"url\": \"...\", \"token\": \"...\"})", path, err)
	}
	return cfg, nil
}

// normalizeServerURL checks a server URL and drops its trailing slash;
// "host:port" is taken as http://host:port.
func normalizeServerURL(s string) (string, error) {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("server URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("server URL %q: want http(s)://host[:port]", s)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("server URL %q: no user, query or fragment (the token goes in --token)", u.Redacted())
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// firstOf returns the first non-empty string.
func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
