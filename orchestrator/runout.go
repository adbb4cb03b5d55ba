package orchestrator

import (
	"bytes"
	"io"
	"strings"
	"sync"
)

// maxReason bounds a failure reason kept from bundle output.
const maxReason = 1024

// firstError passes output through and remembers the first line that
// starts with "Error: ", which is how the bundle runtime and the mixins
// report why a step failed. It is safe for concurrent writes.
type firstError struct {
	w       io.Writer
	mu      sync.Mutex
	partial []byte
	found   string
}

func (f *firstError) Write(p []byte) (int, error) {
	f.mu.Lock()
	if f.found == "" {
		f.partial = append(f.partial, p...)
		for {
			i := bytes.IndexByte(f.partial, '\n')
			if i < 0 {
				break
			}
			line := strings.TrimSpace(string(f.partial[:i]))
			f.partial = f.partial[i+1:]
			if msg, ok := strings.CutPrefix(line, "Error: "); ok && msg != "" {
				if len(msg) > maxReason {
					msg = msg[:maxReason]
				}
				f.found, f.partial = msg, nil
				break
			}
		}
		if len(f.partial) > maxReason {
			f.partial = f.partial[len(f.partial)-maxReason:]
		}
	}
	f.mu.Unlock()
	return f.w.Write(p)
}

// reason returns the first error line, or fallback.
func (f *firstError) reason(fallback string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.found != "" {
		return f.found
	}
	return strings.TrimSpace(fallback)
}

// masker replaces secret values with ******* line by line, so a value
// split across two writes is still caught; a partial line waits for its
// end (or Close of the run, when the writer is dropped).
type masker struct {
	w       io.Writer
	secrets []string
	mu      sync.Mutex
	partial []byte
}

func (m *masker) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.partial = append(m.partial, p...)
	i := bytes.LastIndexByte(m.partial, '\n')
	if i < 0 {
		return len(p), nil
	}
	text := string(m.partial[:i+1])
	m.partial = append([]byte(nil), m.partial[i+1:]...)
	for _, s := range m.secrets {
		text = strings.ReplaceAll(text, s, "*******")
	}
	if _, err := io.WriteString(m.w, text); err != nil {
		return 0, err
	}
	return len(p), nil
}
