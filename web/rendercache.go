package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/labstack/echo/v4"

	"github.com/websoft9/stackhub/orchestrator"
)

// renderCache keeps one rendered answer per variant (the language, for
// the seed's messages) with the engine's ListStamp it was rendered at. A stale entry is never served: get wants
// the same stamp, and a stamp read before List is never newer than the
// list. Two renderings racing may leave the older one; the next request
// then renders again.
type renderCache struct {
	last [2]atomic.Pointer[rendered] // by variant: false, true
}

type rendered struct {
	stamp orchestrator.ListStamp
	body  []byte
}

func index(variant bool) int {
	if variant {
		return 1
	}
	return 0
}

// get returns the body of variant rendered at stamp, or nil.
func (r *renderCache) get(variant bool, stamp orchestrator.ListStamp) []byte {
	if last := r.last[index(variant)].Load(); last != nil && last.stamp == stamp {
		return last.body
	}
	return nil
}

func (r *renderCache) put(variant bool, stamp orchestrator.ListStamp, body []byte) {
	r.last[index(variant)].Store(&rendered{stamp: stamp, body: body})
}

// serve answers with r's body for (variant, the engine's stamp now), or
// renders one with render, keeps it and answers with it.
func (r *renderCache) serve(c echo.Context, e AppReader, variant bool, render func() (any, error)) error {
	return serveCached(c, e,
		func(st orchestrator.ListStamp) []byte { return r.get(variant, st) },
		func(st orchestrator.ListStamp, body []byte) { r.put(variant, st, body) }, render)
}

// serveCached answers with what get holds for the engine's stamp now, or
// renders, keeps the body with put (only while the engine can tell a
// stamp) and answers with it.
func serveCached(c echo.Context, e AppReader, get func(orchestrator.ListStamp) []byte, put func(orchestrator.ListStamp, []byte),
	render func() (any, error)) error {
	stamp, cacheable := e.ListStamp()
	if cacheable {
		if body := get(stamp); body != nil {
			return jsonBody(c, body)
		}
	}
	v, err := render()
	if err != nil {
		return err
	}
	body, err := encodeJSON(v)
	if err != nil {
		return err
	}
	if cacheable {
		put(stamp, body)
	}
	return jsonBody(c, body)
}

// jsonBody answers 200 with body, a rendered JSON answer, and its
// Content-Length: without it net/http sends a body over 2 KB chunked, one
// write system call more (and the chunks' framing) per answer. A page of
// the catalog (16 KB) took three writes; it takes two.
func jsonBody(c echo.Context, body []byte) error {
	c.Response().Header().Set(echo.HeaderContentLength, strconv.Itoa(len(body)))
	return c.JSONBlob(http.StatusOK, body)
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

// keyedCache keeps rendered answers by key (an app's name and the
// language) for one ListStamp: the first request at a newer stamp drops
// them all, so it never holds more than two answers per installed app
// and never serves one rendered before a change.
type keyedCache struct {
	mu     sync.Mutex
	stamp  orchestrator.ListStamp
	bodies map[keyedVariant][]byte
}

type keyedVariant struct {
	key     string
	variant bool
}

func (k *keyedCache) get(key string, variant bool, stamp orchestrator.ListStamp) []byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stamp != stamp {
		return nil
	}
	return k.bodies[keyedVariant{key, variant}]
}

func (k *keyedCache) put(key string, variant bool, stamp orchestrator.ListStamp, body []byte) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stamp != stamp || k.bodies == nil {
		k.stamp, k.bodies = stamp, map[keyedVariant][]byte{}
	}
	k.bodies[keyedVariant{key, variant}] = body
}

// serve answers with the body kept for (key, variant) at the engine's
// stamp now, or renders one, keeps it when render succeeded and answers
// with it. A failure (an unknown name) is never kept.
func (k *keyedCache) serve(c echo.Context, e AppReader, key string, variant bool, render func() (any, error)) error {
	return serveCached(c, e,
		func(st orchestrator.ListStamp) []byte { return k.get(key, variant, st) },
		func(st orchestrator.ListStamp, body []byte) { k.put(key, variant, st, body) }, render)
}
