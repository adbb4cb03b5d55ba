package web

import (
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/websoft9/stackhub/web/wire"
)

// debugRuntime serves GET /api/v1/debug/runtime, registered only with
// Server.DebugRuntime (serve --debug-runtime, for the load harness): the
// process's goroutines, open file descriptors and resident memory, so that
// a harness can check they return to their baseline after a load.
func (s *Server) debugRuntime(c echo.Context) error {
	return c.JSON(http.StatusOK, wire.Runtime{Goroutines: runtime.NumGoroutine(), OpenFDs: openFDs(), RSSBytes: rssBytes()})
}

// openFDs counts /proc/self/fd, less the descriptor the count itself
// opens; -1 where /proc is missing.
func openFDs() int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(entries) - 1
}

// rssBytes reads the resident set from /proc/self/statm; -1 where /proc is
// missing.
func rssBytes() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return -1
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return -1
	}
	return pages * int64(os.Getpagesize())
}
