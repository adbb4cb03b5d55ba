package orchestrator

import (
	"bytes"
	"io"
	"strings"
	"sync"

	"github.com/websoft9/stackhub/porter-mixin/events"
)

// maxReason bounds a failure reason kept from bundle output.
const maxReason = 1024

// firstError passes output through and remembers why the run failed: the
// message of the mixin's own "failed" event when there is one (it travels
// in order with the mixin's output), else the first line that starts with
// "Error: " (how the bundle runtime reports a failed step; it writes to
// stderr, which Docker may interleave with stdout in any order). It is
// safe for concurrent writes.
type firstError struct {
	w       io.Writer
	mu      sync.Mutex
	partial []byte
	found   string
	failed  string
}

func (f *firstError) Write(p []byte) (int, error) {
	f.mu.Lock()
	if f.failed == "" {
		f.partial = append(f.partial, p...)
		for {
			i := bytes.IndexByte(f.partial, '\n')
			if i < 0 {
				break
			}
			line := strings.TrimSpace(string(f.partial[:i]))
			f.partial = f.partial[i+1:]
			if ev, ok := events.Parse(line); ok && ev.Stage == events.StageFailed && ev.Resource == "" && ev.Image == "" && ev.Message != "" {
				f.failed, f.partial = truncate(ev.Message), nil
				break
			}
			if msg, ok := strings.CutPrefix(line, "Error: "); ok && msg != "" && f.found == "" {
				f.found = truncate(msg)
			}
		}
		if len(f.partial) > maxReason {
			f.partial = f.partial[len(f.partial)-maxReason:]
		}
	}
	f.mu.Unlock()
	return f.w.Write(p)
}

func truncate(s string) string {
	if len(s) > maxReason {
		return s[:maxReason]
	}
	return s
}

// reason returns the mixin's failure message, else the first error line,
// else fallback.
func (f *firstError) reason(fallback string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.failed != "":
		return f.failed
	case f.found != "":
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
