package portermixin

import (
	"encoding/json"
	"fmt"
)

// VersionInfo is what `websoft9 version --output json` prints. Porter
// reads name and version into the bundle's stamp, and drops a mixin whose
// name is not the one it was installed under.
type VersionInfo struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Commit  string `json:"commit"`
	Author  string `json:"author"`
}

// Author is the author printed by version.
const Author = "StackHub"

// PrintVersion writes the version as "json" or "plaintext" (also the
// default, ""): e.g. `websoft9 mixin v0.1.0 (abc1234) by StackHub`. Any
// other format is an error and prints nothing.
func (m *Mixin) PrintVersion(format string) error {
	info := VersionInfo{Name: Name, Version: Version, Commit: Commit, Author: Author}
	switch format {
	case "json":
		enc := json.NewEncoder(m.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(info)
	case "", "plaintext":
		_, err := fmt.Fprintf(m.Out, "%s mixin %s (%s) by %s\n", info.Name, info.Version, info.Commit, info.Author)
		return err
	default:
		return fmt.Errorf("version: unsupported output format %q (json or plaintext)", format)
	}
}
