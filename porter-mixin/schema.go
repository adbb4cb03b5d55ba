package portermixin

import (
	_ "embed"
)

// schemaJSON is the draft-07 JSON schema of a websoft9 step, in the shape
// Porter merges into its manifest schema (porter-compat.md §5): only
// relative #/definitions/ refs, no $id, no ref to a bare ref; definitions
// installStep, upgradeStep, uninstallStep, invokeStep and config.
//
//go:embed schema/schema.json
var schemaJSON []byte

// PrintSchema writes the JSON schema of a websoft9 step.
func (m *Mixin) PrintSchema() error {
	_, err := m.Out.Write(schemaJSON)
	return err
}
