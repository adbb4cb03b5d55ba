package web

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/websoft9/stackhub/orchestrator"

	"github.com/websoft9/stackhub/web/wire"
)

// debugRuntime serves GET /api/v1/debug/runtime, registered only with
// Server.DebugRuntime (serve --debug-runtime, for the load harness): the
// process's goroutines, open file descriptors and resident memory, so that
// a harness can check they return to their baseline after a load.
func (s *Server) debugRuntime(c echo.Context) error {
	rt := wire.Runtime{Goroutines: runtime.NumGoroutine(), RSSBytes: rssBytes()}
	rt.OpenFDs, rt.UnixSockets, rt.DatabaseFiles = openFDs(s.DatabaseFile)
	return c.JSON(http.StatusOK, rt)
}

// debugCPUProfile serves GET /api/v1/debug/cpu?seconds=N (with
// Server.DebugRuntime only): a pprof CPU profile of the next N seconds
// (1…60, default 10), for `go tool pprof`.
func (s *Server) debugCPUProfile(c echo.Context) error {
	secs := 10
	if v := c.QueryParam("seconds"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 60 {
			return orchestrator.Errorf(orchestrator.EINVALID, "seconds must be a whole number from 1 to 60")
		}
		secs = n
	}
	var buf bytes.Buffer
	if err := pprof.StartCPUProfile(&buf); err != nil {
		return orchestrator.Errorf(orchestrator.ECONFLICT, "a CPU profile is already being taken")
	}
	select {
	case <-time.After(time.Duration(secs) * time.Second):
	case <-c.Request().Context().Done():
	}
	pprof.StopCPUProfile()
	return c.Blob(http.StatusOK, "application/octet-stream", buf.Bytes())
}

// debugHeapProfile serves GET /api/v1/debug/heap (with Server.DebugRuntime
// only): a pprof heap profile as of the last garbage collection, after
// one more collection (?gc=0 skips it), for `go tool pprof -inuse_space`.
func (s *Server) debugHeapProfile(c echo.Context) error {
	if c.QueryParam("gc") != "0" {
		runtime.GC()
	}
	var buf bytes.Buffer
	if err := pprof.Lookup("heap").WriteTo(&buf, 0); err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	return c.Blob(http.StatusOK, "application/octet-stream", buf.Bytes())
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
// opens: in all, unix sockets (the Docker client's connections) and those
// open on the database file or its -wal and -shm (SQLite's connections);
// -1s where /proc is missing.
func openFDs(database string) (total, unix, db int) {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1, -1, -1
	}
	inodes := unixInodes()
	for _, e := range entries {
		target, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil {
			continue // the directory's own descriptor, closed by now
		}
		total++
		switch ino, ok := strings.CutPrefix(target, "socket:["); {
		case ok && inodes[strings.TrimSuffix(ino, "]")]:
			unix++
		case database != "" && (target == database || target == database+"-wal" || target == database+"-shm"):
			db++
		}
	}
	return total, unix, db
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
