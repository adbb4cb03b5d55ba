package portermixin

import (
	"fmt"
	"io"
)

// BuildLine is the only line build prints: the runtime is one static
// binary and needs nothing in the invocation image.
const BuildLine = "# websoft9 mixin has no buildtime dependencies"

// Build answers Porter's build verb. It drains the BuildInput on m.In and
// prints BuildLine, which Porter inserts into its Dockerfile verbatim (our
// builder accepts only comment and blank lines).
func (m *Mixin) Build() error {
	_, _ = io.Copy(io.Discard, m.In)
	_, err := fmt.Fprintln(m.Out, BuildLine)
	return err
}
