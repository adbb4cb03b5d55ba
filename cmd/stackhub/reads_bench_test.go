package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/bundles"
	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/orchestrator/catalog"
	"github.com/websoft9/stackhub/orchestrator/sqlite"
	"github.com/websoft9/stackhub/web"
)

// BenchmarkReads measures the read endpoints' own cost, in process: the
// server's handler with its middleware, a real SQLite file holding 100
// running installations, and a bearer token. No socket and no Docker: this
// is the part of a wrk figure that is StackHub's (make bench reports the
// whole on loopback). Run it with -cpuprofile to see where the time goes.
func BenchmarkReads(b *testing.B) {
	h, token := readsServer(b, 100)
	for _, path := range []string{"/getAppInfo?appName=bench-app-7", "/getAllAppInfo", "/api/v1/apps", "/searchServer"} {
		b.Run(path, func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(25) // 50 clients on 2 cores, as wrk -c50
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest(http.MethodGet, path, nil)
					req.Header.Set("Authorization", "Bearer "+token)
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
					}
				}
			})
		})
	}
}

// readsServer wires the HTTP API as serve does, on a store with n running
// installations of a two-service app.
func readsServer(tb testing.TB, n int) (http.Handler, string) {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "stackhub.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	now := time.Now()
	for i := range n {
		name := fmt.Sprintf("bench-app-%d", i)
		inst := orchestrator.Installation{Name: name, App: "demo", Version: "0.1.0", State: orchestrator.StateInstalling,
			Ports:      []orchestrator.PortBinding{{Param: "port", Port: 20000 + 2*i}, {Param: "db_port", Port: 20001 + 2*i}},
			Containers: []string{"websoft9-" + name, "websoft9-" + name + "-db"}, Created: now, Updated: now}
		run := orchestrator.Run{ID: fmt.Sprintf("run-%d", i), Installation: name, Action: "install", Version: "0.1.0",
			Status: orchestrator.RunRunning, Parameters: map[string]any{"port": 20000 + 2*i}, Created: now}
		if err := db.BeginInstall(ctx, inst, run); err != nil {
			tb.Fatal(err)
		}
		run.Status, run.Finished, run.Outputs = orchestrator.RunSucceeded, now, map[string]string{"url": "http://127.0.0.1"}
		if err := db.FinishRun(ctx, run, orchestrator.StateRunning, "", false); err != nil {
			tb.Fatal(err)
		}
	}
	catalogDir := filepath.Join(tb.TempDir(), "catalog")
	if err := catalog.Extract(bundles.FS(), catalogDir); err != nil {
		tb.Fatal(err)
	}
	cat, err := catalog.Load(catalogDir)
	if err != nil {
		tb.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	engine := orchestrator.New(orchestrator.Deps{Catalog: cat, Installations: db, Runs: db, Logger: log, Now: time.Now, NewID: newID})
	auth := orchestrator.TokenAuth{Store: db, Now: time.Now, NewID: newID}
	secret, _, err := auth.Create(ctx, "bench", orchestrator.ScopeAdmin)
	if err != nil {
		tb.Fatal(err)
	}
	srv := &web.Server{Engine: engine, Auth: auth, Logger: log}
	return srv.Handler(), secret
}

// TestServeReads serves readsServer on 127.0.0.1:$READS_SERVE_PORT for
// $READS_SERVE_FOR (e.g. 60s), printing the token, for wrk by hand. It does
// nothing in a normal run.
func TestServeReads(t *testing.T) {
	port, d := os.Getenv("READS_SERVE_PORT"), os.Getenv("READS_SERVE_FOR")
	if port == "" || d == "" {
		t.Skip("set READS_SERVE_PORT and READS_SERVE_FOR to serve the reads for wrk")
	}
	limit, err := time.ParseDuration(d)
	require.NoError(t, err)
	h, token := readsServer(t, 100)
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	require.NoError(t, err)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	fmt.Printf("TOKEN=%s\n", token)
	time.Sleep(limit)
	srv.Close()
}
