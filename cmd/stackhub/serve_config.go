package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// serveConfigEnv names serve's configuration file when --config does not
// (STACKHUB_CONFIG is the CLI's own file, a client's URL and token).
const serveConfigEnv = "STACKHUB_SERVE_CONFIG"

// flagEnv is the environment variable of serve's flag name:
// data-dir → STACKHUB_DATA_DIR.
func flagEnv(name string) string {
	return "STACKHUB_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// configurable tells whether a flag has a key in the file and a variable.
func configurable(f *pflag.Flag) bool { return f.Name != "config" && f.Name != "help" }

// applyServeConfig sets serve's flags from, in order of precedence: the
// command line (already parsed), STACKHUB_* variables, the YAML file path
// (keys are the flags' names; a key the server does not know is an
// error), the defaults.
func applyServeConfig(fs *pflag.FlagSet, path string, getenv env) error {
	fromFile := map[string][]string{}
	if path != "" {
		var err error
		if fromFile, err = readServeConfig(fs, path); err != nil {
			return err
		}
	}
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || !configurable(f) {
			return
		}
		if v, ok := lookupEnv(getenv, flagEnv(f.Name)); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", flagEnv(f.Name), v, err))
			}
			return
		}
		for _, v := range fromFile[f.Name] {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %s: %q: %w", path, f.Name, v, err))
			}
		}
	})
	return errors.Join(errs...)
}

func lookupEnv(getenv env, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

// readServeConfig reads the YAML file: a mapping of flag names to
// scalars, or to lists of them for the repeatable flags.
func readServeConfig(fs *pflag.FlagSet, path string) (map[string][]string, error) {
	body, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return map[string][]string{}, nil // an empty file: the defaults
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return map[string][]string{}, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: want a mapping of serve's flag names to values", path)
	}
	out := map[string][]string{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		f := fs.Lookup(k.Value)
		if f == nil || !configurable(f) {
			return nil, fmt.Errorf("%s:%d: unknown key %q (the keys are serve's flags: %s)", path, k.Line, k.Value, strings.Join(flagNames(fs), ", "))
		}
		if _, dup := out[k.Value]; dup {
			return nil, fmt.Errorf("%s:%d: key %q is set twice", path, k.Line, k.Value)
		}
		repeatable := strings.HasSuffix(f.Value.Type(), "Slice") || strings.HasSuffix(f.Value.Type(), "Array")
		switch v.Kind {
		case yaml.ScalarNode:
			if v.Tag == "!!null" {
				out[k.Value] = nil
				continue
			}
			out[k.Value] = []string{v.Value}
		case yaml.SequenceNode:
			if !repeatable {
				return nil, fmt.Errorf("%s:%d: %s takes one value, not a list", path, v.Line, k.Value)
			}
			vals := []string{}
			for _, item := range v.Content {
				if item.Kind != yaml.ScalarNode {
					return nil, fmt.Errorf("%s:%d: %s: a list of values", path, item.Line, k.Value)
				}
				val := item.Value
				if strings.HasSuffix(f.Value.Type(), "Slice") {
					// A slice flag reads CSV: one item stays one value,
					// commas and all.
					val = `"` + strings.ReplaceAll(val, `"`, `""`) + `"`
				}
				vals = append(vals, val)
			}
			out[k.Value] = vals
		default:
			return nil, fmt.Errorf("%s:%d: %s: want a value or a list of values", path, v.Line, k.Value)
		}
	}
	return out, nil
}

func flagNames(fs *pflag.FlagSet) []string {
	var names []string
	fs.VisitAll(func(f *pflag.Flag) {
		if configurable(f) && !f.Hidden {
			names = append(names, f.Name)
		}
	})
	sort.Strings(names)
	return names
}
