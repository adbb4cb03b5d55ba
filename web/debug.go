package web

import (
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
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
	rt := wire.Runtime{Goroutines: runtime.NumGoroutine(), RSSBytes: rssBytes()}
	rt.OpenFDs, rt.UnixSockets = openFDs()
	return c.JSON(http.StatusOK, rt)
}

// debugGoroutines serves GET /api/v1/debug/goroutines (with
// Server.DebugRuntime only): every goroutine's stack, grouped, as text, for
// a harness to keep when the count does not come back to its baseline.
func (s *Server) debugGoroutines(c echo.Context) error {
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextPlainCharsetUTF8)
	c.Response().WriteHeader(http.StatusOK)
	return pprof.Lookup("goroutine").WriteTo(c.Response(), 1)
}

// openFDs counts /proc/self/fd, less the descriptor the count itself
// opens, and how many of them are unix sockets (the Docker client's
// connections); -1, -1 where /proc is missing.
func openFDs() (total, unix int) {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1, -1
	}
	inodes := unixInodes()
	for _, e := range entries {
		target, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil {
			continue // the directory's own descriptor, closed by now
		}
		total++
		if ino, ok := strings.CutPrefix(target, "socket:["); ok && inodes[strings.TrimSuffix(ino, "]")] {
			unix++
		}
	}
	return total, unix
}

// unixInodes are the inodes of the unix sockets in /proc/self/net/unix.
func unixInodes() map[string]bool {
	data, err := os.ReadFile("/proc/self/net/unix")
	if err != nil {
		return nil
	}
	out := map[string]bool{}
	for line := range strings.Lines(string(data)) {
		// Num RefCount Protocol Flags Type St Inode [Path]
		if f := strings.Fields(line); len(f) >= 7 && f[0] != "Num" {
			out[f[6]] = true
		}
	}
	return out
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
