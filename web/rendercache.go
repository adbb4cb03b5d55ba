package web

import (
	"bytes"
	"encoding/json"
	"sync/atomic"

	"github.com/websoft9/stackhub/orchestrator"
)

// renderCache keeps one rendered answer per language with the engine's
// ListStamp it was rendered at. A stale entry is never served: get wants
// the same stamp, and a stamp read before List is never newer than the
// list. Two renderings racing may leave the older one; the next request
// then renders again.
type renderCache struct {
	last [2]atomic.Pointer[rendered] // [0] Chinese, [1] English
}

type rendered struct {
	stamp orchestrator.ListStamp
	body  []byte
}

func langIndex(english bool) int {
	if english {
		return 1
	}
	return 0
}

// get returns the body rendered at stamp, or nil.
func (r *renderCache) get(english bool, stamp orchestrator.ListStamp) []byte {
	if last := r.last[langIndex(english)].Load(); last != nil && last.stamp == stamp {
		return last.body
	}
	return nil
}

func (r *renderCache) put(english bool, stamp orchestrator.ListStamp, body []byte) {
	r.last[langIndex(english)].Store(&rendered{stamp: stamp, body: body})
}

// encodeJSON renders v exactly as Echo's c.JSON does (json.Encoder, a
// final newline), so that a cached answer is the same bytes.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
