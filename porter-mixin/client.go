package portermixin

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
)

//go:embed schema/schema.json
var schemaJSON []byte

// VersionInfo is what `websoft9 version --output json` prints; Porter reads
// name and version into the bundle's stamp.
type VersionInfo struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Commit  string `json:"commit"`
	Author  string `json:"author"`
}

// PrintVersion writes the version as json or plaintext (the default).
func (m *Mixin) PrintVersion(format string) error {
	info := VersionInfo{Name: Name, Version: Version, Commit: Commit, Author: "StackHub"}
	switch format {
	case "json":
		enc := json.NewEncoder(m.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(info)
	case "", "plaintext":
		_, err := fmt.Fprintf(m.Out, "%s mixin %s (%s) by %s\n", info.Name, info.Version, info.Commit, info.Author)
		return err
	default:
		return fmt.Errorf("unsupported output format %q (json or plaintext)", format)
	}
}

// PrintSchema writes the JSON schema of a websoft9 step.
func (m *Mixin) PrintSchema() error {
	_, err := m.Out.Write(schemaJSON)
	return err
}

// Build answers Porter's build verb: the runtime is one static binary, so it
// needs nothing in the image and prints a single comment line.
func (m *Mixin) Build() error {
	_, _ = io.Copy(io.Discard, m.In)
	_, err := fmt.Fprintln(m.Out, "# websoft9 mixin has no buildtime dependencies")
	return err
}

// Lint answers Porter's lint verb with a JSON array of findings ([] when
// the steps are clean).
func (m *Mixin) Lint() error {
	_, _ = io.Copy(io.Discard, m.In)
	_, err := fmt.Fprintln(m.Out, "[]")
	return err
}
