package web

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/websoft9/stackhub/orchestrator"
)

// fuzzRoutes are the routes whose input FuzzRequests decodes: the seed
// endpoints through bind, /api/v1 through decodeStrict.
var fuzzRoutes = []string{"/installApp", "/uninstallApp", "/getAppInfo", "/api/v1/apps", "/api/v1/apps/x/upgrade"}

var fuzzMethods = []string{http.MethodPost, http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodPatch}

// fuzzCall records what the fake engine was asked during one request.
type fuzzCall struct {
	called      bool
	name        string // the app or installation name it got
	unavailable bool   // it answered EUNAVAILABLE
}

// fuzzEngine answers by name: demo exists, busy is unavailable (503),
// taken conflicts, anything else is unknown.
func fuzzEngine(rec *fuzzCall) fakeEngine {
	answer := func(name string) error {
		rec.called, rec.name = true, name
		switch name {
		case "demo":
			return nil
		case "busy":
			rec.unavailable = true
			return orchestrator.Errorf(orchestrator.EUNAVAILABLE, "docker does not answer")
		case "taken":
			return orchestrator.Errorf(orchestrator.ECONFLICT, "%s is already installed", name)
		}
		return orchestrator.Errorf(orchestrator.ENOTFOUND, "%s is not in the catalog", name)
	}
	inst := func(name string) orchestrator.Installation {
		return orchestrator.Installation{Name: name, App: "demo", State: orchestrator.StateInstalling, LastRunID: "j1",
			Ports: []orchestrator.PortBinding{{Param: "port", Port: 9001}}}
	}
	return fakeEngine{fakeLifecycle: fakeLifecycle{
		install: func(r orchestrator.InstallRequest) (orchestrator.Installation, error) {
			if err := answer(r.App); err != nil {
				return orchestrator.Installation{}, err
			}
			return inst(r.App), nil
		},
		uninstall: func(r orchestrator.UninstallRequest) (orchestrator.UninstallResult, error) {
			if err := answer(r.Name); err != nil {
				return orchestrator.UninstallResult{}, err
			}
			return orchestrator.UninstallResult{Installation: inst(r.Name)}, nil
		},
	}, fakeApps: fakeApps{
		info: func(name string) (orchestrator.Installation, error) {
			if err := answer(name); err != nil {
				return orchestrator.Installation{}, err
			}
			return inst(name), nil
		},
	}}
}

// FuzzRequests sends fuzzed methods, query strings, bodies and content
// types, with a valid token, through the whole Echo handler chain to the
// seed endpoints and to /api/v1 apps. It must never answer 5xx (but the
// 503 the fake engine asks for), nor panic; every failure is JSON with a
// message, the seed's envelope with code "0"; a seed success has code
// "1"; a POST body that was accepted is one JSON value; and the engine gets
// appName exactly as the client sent it.
func FuzzRequests(f *testing.F) {
	for i, body := range []string{
		`{"appName":"demo"}`, `{"appName":"demo","purge":true}`, `{"appName":"busy"}`, `{"appName":"taken","force":true}`,
		`{"appName":7}`, `{"appName":null}`, `[]`, `{"appName":"demo"}{"appName":"demo"}`, `{"appName":"demo"}}`,
		`{"AppName":"demo"}`, `{"appName":"demo","appName":"busy"}`, `{"unknown":1}`, "\xef\xbb\xbf{\"appName\":\"demo\"}",
		`{"appName":"\u0000"}`, `{"appName":1e309}`, strings.Repeat("[", 10000), `{"appName":"demo"} `,
		`{"app":"demo"}`, `{"app":"busy","name":"x"}`, `{"app":"demo"}x`, `{"App":"demo"}`, `{"parameters":{"a":1}}`,
		`{"parameters":[]}`, `null`, ``, ` `,
	} {
		f.Add(uint8(i%len(fuzzRoutes)), uint8(0), "", []byte(body), "application/json", i%2 == 0)
	}
	for i, q := range []string{"appName=demo", "appName=busy&force=1", "appName=demo&appName=demo", "appName=demo&purge=yes",
		"appName=..%2F..%2Fetc%2Fpasswd", "appName=%ff", "appName=demo;x=1", "appName", "=&=", "purge=1", "appName=demo&name=x"} {
		f.Add(uint8(i%3), uint8(1), q, []byte(nil), "", i%2 == 1)
		f.Add(uint8(i%3), uint8(0), q, []byte(`{"appName":"demo"}`), "text/plain", false)
	}

	// A second value, or a stray closing bracket, after the object.
	for _, tc := range []struct {
		route uint8
		body  string
	}{{0, `{"appName":"demo"}}`}, {1, `{"appName":"demo"}]`}, {2, `{"appName":"demo"} {}`}, {3, `{"app":"demo"}x`}, {3, `{"app":"demo"}]`}, {4, `{} {}`}} {
		f.Add(tc.route, uint8(0), "", []byte(tc.body), "application/json", true)
	}

	f.Add(uint8(0), uint8(0), "appName=demo", []byte("null"), "application/json", false)

	call := &fuzzCall{}
	s := &Server{Auth: fakeAuth{}, Engine: fuzzEngine(call), Logger: slog.New(slog.DiscardHandler)}
	h := s.Handler()
	f.Fuzz(func(t *testing.T, route, method uint8, query string, body []byte, contentType string, english bool) {
		if len(body) > 64<<10 || len(query) > 8<<10 {
			t.Skip()
		}
		*call = fuzzCall{}
		path := fuzzRoutes[int(route)%len(fuzzRoutes)]
		m := fuzzMethods[int(method)%len(fuzzMethods)]
		req := httptest.NewRequest(m, path, bytes.NewReader(body))
		req.URL.RawQuery = query
		req.Header.Set("Authorization", "Bearer shk_good")
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if english {
			req.Header.Set("Accept-Language", "en")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		status, out := rec.Code, rec.Body.Bytes()
		seed := !strings.HasPrefix(path, "/api/")
		if status >= 500 && !(status == http.StatusServiceUnavailable && call.unavailable) {
			t.Fatalf("%s %s?%s body %q: status %d: %s", m, path, query, body, status, out)
		}
		if status >= 400 {
			var msg string
			if seed {
				var env envelope
				if err := json.Unmarshal(out, &env); err != nil || env.Code != "0" {
					t.Fatalf("%s %s?%s body %q: status %d, want the envelope with code \"0\": %s", m, path, query, body, status, out)
				}
				msg = env.Message
			} else {
				var e apiError
				if err := json.Unmarshal(out, &e); err != nil || e.Error == "" {
					t.Fatalf("%s %s?%s body %q: status %d, want a JSON error: %s", m, path, query, body, status, out)
				}
				msg = e.Message
			}
			if strings.TrimSpace(msg) == "" {
				t.Fatalf("%s %s?%s body %q: status %d without a message: %s", m, path, query, body, status, out)
			}
			return
		}

		if status < 200 || status > 299 {
			t.Fatalf("%s %s?%s body %q: status %d", m, path, query, body, status)
		}
		if seed {
			var env envelope
			if err := json.Unmarshal(out, &env); err != nil || env.Code != "1" || !call.called {
				t.Fatalf("%s %s?%s body %q: status %d, want the envelope with code \"1\" after the engine was called (%t): %s", m, path, query, body, status, call.called, out)
			}
		}
		if m == http.MethodPost && len(bytes.TrimSpace(body)) > 0 && !json.Valid(body) {
			t.Fatalf("%s %s body %q is not one JSON value, yet it was accepted (%d)", m, path, body, status)
		}
		if seed && call.called {
			checkAppNameSent(t, m, path, query, body, call.name)
		}
	})
}

// checkAppNameSent checks that the engine got appName as the client sent
// it: in the query string or in the JSON body, which the server must have
// read as one object.
func checkAppNameSent(t *testing.T, method, path, query string, body []byte, got string) {
	t.Helper()
	var sent []string
	if q, _ := url.ParseQuery(query); q != nil {
		sent = append(sent, q["appName"]...)
	}
	if method == http.MethodPost && len(bytes.TrimSpace(body)) > 0 {
		var fields map[string]any
		if err := json.Unmarshal(body, &fields); err != nil {
			t.Fatalf("%s %s body %q was accepted but is not a JSON object: %v", method, path, body, err)
		}
		if v, ok := fields["appName"].(string); ok {
			sent = append(sent, v)
		}
	}
	if len(sent) != 1 || sent[0] != got {
		t.Fatalf("%s %s?%s body %q: the engine got appName %q, the client sent %q", method, path, query, body, got, sent)
	}
}
