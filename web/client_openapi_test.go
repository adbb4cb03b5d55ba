package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/web/client"
)

// clientExempt are the documented operations the typed client does not
// call, with why.
var clientExempt = map[string]string{
	"GET /api/v1/openapi.json":         "the document itself",
	"GET /api/v1/catalog/{name}/icon":  "an image for the console",
	"GET /api/v1/auth/setup":           "console sessions",
	"POST /api/v1/auth/setup":          "console sessions",
	"POST /api/v1/auth/login":          "console sessions",
	"POST /api/v1/auth/logout":         "console sessions",
	"GET /api/v1/auth/me":              "console sessions",
	"POST /api/v1/auth/password":       "console sessions",
	"POST /api/v1/auth/totp/enroll":    "console sessions: a second factor is a person's",
	"POST /api/v1/auth/totp/confirm":   "console sessions: a second factor is a person's",
	"POST /api/v1/auth/totp/disable":   "console sessions: a second factor is a person's",
	"POST /api/v1/auth/recovery-codes": "console sessions: a second factor is a person's",
	"GET /api/v1/jobs/{id}/events":     "", // called by JobEvents; listed to be sure the stream is reached
	"GET /api/v1/debug/runtime":        "only with serve --debug-runtime",
	"GET /api/v1/debug/goroutines":     "only with serve --debug-runtime",
	"GET /api/v1/debug/cpu":            "only with serve --debug-runtime",
	"GET /api/v1/debug/heap":           "only with serve --debug-runtime",
}

// TestClientMatchesOpenAPI calls every method of the typed client against
// the server's own routes and records which route answered: every route
// the client calls is in the OpenAPI document, and every documented
// /api/v1 operation is called by the client or exempt with a reason.
func TestClientMatchesOpenAPI(t *testing.T) {
	var mu sync.Mutex
	called := map[string]bool{}
	s := &Server{Auth: fakeAuth{}, Engine: fakeEngine{}, Audit: &fakeAudit{}}
	e := s.Handler()
	param := regexp.MustCompile(`:([a-zA-Z]+)`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.ServeHTTP(w, r)
		ctx := e.NewContext(r, nil)
		e.Router().Find(r.Method, r.URL.Path, ctx)
		mu.Lock()
		called[r.Method+" "+param.ReplaceAllString(ctx.Path(), "{$1}")] = true
		mu.Unlock()
	}))
	defer srv.Close()

	c := client.NewClient(srv.URL, "shk_good")
	ctx := context.Background()
	_, _ = c.ListApps(ctx)
	_, _ = c.GetApp(ctx, "blog")
	_, _ = c.InstallApp(ctx, "demo", "blog")
	_, _ = c.UninstallApp(ctx, "blog", true)
	_, _ = c.UpgradeApp(ctx, "blog", map[string]any{"message": "x"})
	_, _ = c.PlanUpgrade(ctx, "blog", map[string]any{"message": "x"})
	_, _ = c.AppSettings(ctx, "blog")
	_, _ = c.AppStats(ctx, "blog")
	_, _ = c.BackUp(ctx, "blog", "")
	_, _ = c.Backups(ctx, "blog", "local")
	_, _ = c.Backups(ctx, "", "")
	_, _, _ = c.Restore(ctx, "b1", "", "blog2")
	_, _ = c.VerifyBackup(ctx, "", "")
	_ = c.DeleteBackup(ctx, "b1", "")
	_, _ = c.PruneBackups(ctx, "blog", "", client.Retention{Last: 2})
	_, _ = c.Repositories(ctx)
	_, _ = c.AddRepository(ctx, client.RepositoryRequest{ID: "local", Kind: "filesystem", Path: "/srv/b", Password: "12345678"})
	_ = c.RemoveRepository(ctx, "local")
	_, _ = c.BackupPolicy(ctx, "blog")
	_, _ = c.BackupPolicy(ctx, "")
	_, _ = c.SetBackupPolicy(ctx, "blog", client.BackupPolicy{Schedule: "@daily"})
	_, _ = c.SetBackupPolicy(ctx, "", client.BackupPolicy{Schedule: "@daily"})
	_ = c.ClearBackupPolicy(ctx, "blog")
	_, _ = c.Domains(ctx, "blog")
	_, _ = c.AddDomain(ctx, "blog", client.DomainRequest{Domain: "blog.example.com"})
	_, _ = c.RemoveDomain(ctx, "blog", "blog.example.com")
	_, _ = c.Gateway(ctx)
	_, _ = c.Cluster(ctx)
	_, _ = c.InitCluster(ctx, "10.0.0.1")
	_, _ = c.JoinCommand(ctx)
	_, _ = c.Nodes(ctx)
	_, _ = c.DrainNode(ctx, "host", true)
	_, _ = c.ActivateNode(ctx, "host")
	_, _ = c.RemoveNode(ctx, "host", false)
	_, _ = c.AddDomain(ctx, "", client.DomainRequest{Domain: "panel.example.com"})
	_, _ = c.RemoveDomain(ctx, "", "panel.example.com")
	_, _ = c.AppAction(ctx, "blog", "restart")
	if rc, err := c.AppLogs(ctx, "blog", client.LogsOptions{Tail: 1}); err == nil {
		_, _ = io.Copy(io.Discard, rc)
		rc.Close()
	}
	_, _ = c.AppRuns(ctx, "blog", 5)
	_, _ = c.Credentials(ctx, "blog")
	_, _ = c.GetJob(ctx, "j1")
	_, _ = c.JobEvents(ctx, "j1", "", func(client.JobEvent) error { return nil })
	_, _ = c.CancelJob(ctx, "j1")
	_, _ = c.Catalog(ctx, client.CatalogQuery{Search: "blog", Category: "cms", Names: []string{"wordpress"}, Limit: 10})
	_, _ = c.CatalogApp(ctx, "redmine")
	_, _ = c.PullBundle(ctx, "r.test/x:v1", false)
	_, _ = c.ImportBundle(ctx, strings.NewReader("not an archive"), false)
	_, _ = c.AddBundleDir(ctx, strings.NewReader("not a tar"), true)
	_, _ = c.Server(ctx)
	_, _ = c.SearchServer(ctx)
	_, _ = c.Refusals(ctx, "", 10)
	_, _ = c.AppPermissions(ctx, "vpn")
	_, _, _ = c.GrantPermissions(ctx, "vpn", "sha256:aa", []string{"cap-add:NET_ADMIN"})
	_, _ = c.ListGrants(ctx)
	_ = c.RevokeGrant(ctx, "g1")
	_, _ = c.ListTokens(ctx)
	_, _ = c.CreateToken(ctx, "ci", "read")
	_ = c.RevokeToken(ctx, "t1")
	_, _ = c.Users(ctx)
	role := "operator"
	_ = c.ChangeUser(ctx, "ops", client.UserChange{Role: &role})
	_ = c.DeleteUser(ctx, "ops")
	_, _ = c.Invites(ctx)
	_, _ = c.CreateInvite(ctx, "viewer")
	_ = c.RevokeInvite(ctx, "i1")
	_, _ = c.Join(ctx, "shi_x", "ops", "a-long-password")

	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(openAPI(), &doc))
	documented := map[string]bool{}
	for p, ops := range doc.Paths {
		prefix := "/api/v1"
		if _, seed := seedRoutesByPath[p]; seed {
			prefix = ""
		}
		for m := range ops {
			if m != "parameters" && m != "servers" {
				documented[strings.ToUpper(m)+" "+prefix+p] = true
			}
		}
	}
	for op := range called {
		assert.True(t, documented[op], "the client calls %s, which the OpenAPI document does not describe", op)
	}
	for op := range documented {
		if !strings.Contains(op, " /api/v1/") {
			continue
		}
		if why, ok := clientExempt[op]; ok && why != "" {
			continue
		}
		assert.True(t, called[op], "no client method calls the documented %s", op)
	}
}
