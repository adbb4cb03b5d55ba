package main

import (
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRemoveVolumes (the logic, against a stand-in engine on a unix
// socket; TestSwarmVolumes runs it on real nodes): only volumes labelled
// with the app and named as its own go, after its stopped containers; a
// volume still in use is tried again; a refusal is reported with the
// engine's answer.
func TestRemoveVolumes(t *testing.T) {
	var mu sync.Mutex
	var deleted []string
	busy := 2 // answers 409 for websoft9-blog_db this many times
	mux := http.NewServeMux()
	mux.HandleFunc("GET /volumes", func(w http.ResponseWriter, r *http.Request) {
		assert.Contains(t, r.URL.Query().Get("filters"), `sh.websoft9.app=blog`)
		_ = json.NewEncoder(w).Encode(map[string]any{"Volumes": []map[string]any{
			{"Name": "websoft9-blog_data", "Labels": map[string]string{labelApp: "blog"}},
			{"Name": "websoft9-blog_db", "Labels": map[string]string{labelApp: "blog"}},
			{"Name": "websoft9-other_data", "Labels": map[string]string{labelApp: "blog"}}, // a label that lies
			{"Name": "websoft9-blog_x", "Labels": map[string]string{labelApp: "other"}},
			{"Name": "websoft9-blog_locked", "Labels": map[string]string{labelApp: "blog"}},
		}})
	})
	mux.HandleFunc("GET /containers/json", func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "1", r.URL.Query().Get("all"))
		_ = json.NewEncoder(w).Encode([]map[string]any{
			{"Id": "c1", "Names": []string{"/websoft9-blog.1.abc"}, "State": "exited", "Labels": map[string]string{labelApp: "blog"}},
			{"Id": "c2", "Names": []string{"/websoft9-blog-db.1.def"}, "State": "running", "Labels": map[string]string{labelApp: "blog"}},
		})
	})
	mux.HandleFunc("DELETE /{kind}/{name}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		name := r.PathValue("name")
		switch {
		case name == "websoft9-blog_locked":
			http.Error(w, "volume is locked by the driver", http.StatusForbidden)
			return
		case name == "websoft9-blog_db" && busy > 0:
			busy--
			http.Error(w, "volume is in use", http.StatusConflict)
			return
		}
		deleted = append(deleted, r.PathValue("kind")+"/"+name)
		w.WriteHeader(http.StatusNoContent)
	})
	sock := filepath.Join(t.TempDir(), "docker.sock")
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	was := inUseWait
	inUseWait = 10 * time.Second
	t.Cleanup(func() { inUseWait = was })
	res, err := removeVolumes(t.Context(), sock, "blog")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "websoft9-blog_locked: 403 Forbidden: volume is locked by the driver")
	assert.Equal(t, []string{"websoft9-blog.1.abc"}, res.Containers, "the stopped container only")
	assert.Equal(t, []string{"websoft9-blog_data", "websoft9-blog_db"}, res.Removed)
	assert.Equal(t, []string{"containers/c1", "volumes/websoft9-blog_data", "volumes/websoft9-blog_db"}, deleted)
	assert.Zero(t, busy, "the volume in use was tried again")
}
