// Package socket serves one CNAB run a Docker API socket of its own that
// enforces dockerpolicy's rules, call by call, before it forwards a call
// to the real engine.
package socket

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/volume"

	"github.com/websoft9/stackhub/orchestrator/dockerpolicy"
	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// maxBody bounds the request bodies the policy reads (create requests).
const maxBody = 1 << 20

// Options configure one run's socket.
type Options struct {
	// Socket is the path to listen on; it is replaced if it exists and
	// removed by Close.
	Socket string
	// Upstream is the real Docker socket.
	Upstream string
	Policy   dockerpolicy.Policy
	// Audit receives every refusal (may be nil).
	Audit func(dockerpolicy.Refusal)
	// Logger logs refusals (may be nil).
	Logger *slog.Logger
}

// Server is one run's Docker socket: it forwards the calls the policy
// allows to the real engine and answers the others 403 with the rule.
type Server struct {
	o      Options
	owners *upstream
	proxy  *httputil.ReverseProxy
	srv    *http.Server
	ln     net.Listener
	// tr holds the connections to the real engine; Close drops them.
	tr   *http.Transport
	done chan struct{}
}

// Listen starts serving o.Socket. The socket is world-connectable (the
// invocation image runs as an unprivileged user): put it where only the
// container it is mounted into can reach it.
func Listen(o Options) (*Server, error) {
	if o.Policy.Installation == "" {
		return nil, errors.New("dockerpolicy: the policy names no installation")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.Remove(o.Socket); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("dockerpolicy: %w", err)
	}
	ln, err := net.Listen("unix", o.Socket)
	if err != nil {
		return nil, fmt.Errorf("dockerpolicy: listen: %w", err)
	}
	if err := os.Chmod(o.Socket, 0o666); err != nil {
		ln.Close()
		return nil, fmt.Errorf("dockerpolicy: %w", err)
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", o.Upstream)
		},
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
	}
	s := &Server{o: o, owners: &upstream{client: &http.Client{Transport: tr, Timeout: time.Minute}}, ln: ln, tr: tr, done: make(chan struct{})}
	s.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host, pr.Out.Host = "http", "docker", "docker"
		},
		Transport:     tr,
		FlushInterval: -1, // events, logs, pulls and waits stream
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			writeError(w, http.StatusBadGateway, "StackHub's bundle policy could not reach Docker: "+err.Error())
		},
	}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(o.Logger.Handler(), slog.LevelDebug)}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// Close stops serving, drops its connections to the engine and removes
// the socket: a run leaves no goroutine or descriptor behind.
func (s *Server) Close() error {
	err := s.srv.Close()
	<-s.done
	s.tr.CloseIdleConnections()
	if rerr := os.Remove(s.o.Socket); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		err = errors.Join(err, rerr)
	}
	return err
}

// versionPrefix is the optional /v1.41 of an API path.
var versionPrefix = regexp.MustCompile(`^/v[0-9]+(?:\.[0-9]+)?(/|$)`)

// ServeHTTP checks one call against the policy and forwards it or
// refuses it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if loc := versionPrefix.FindStringIndex(path); loc != nil {
		path = "/" + path[loc[1]:]
	}
	refusals, err := s.check(r, path)
	if err != nil {
		s.o.Logger.Warn("bundle policy: cannot check a call", "installation", s.o.Policy.Installation, "call", r.Method+" "+path, "err", err)
		writeError(w, http.StatusBadGateway, "StackHub's bundle policy could not check this call: "+err.Error())
		return
	}
	if len(refusals) > 0 {
		msgs := make([]string, len(refusals))
		for i, f := range refusals {
			if f.Call == "" {
				f.Call = r.Method + " " + path
			}
			s.o.Logger.Warn("bundle policy: refused", "installation", s.o.Policy.Installation, "rule", f.Rule, "call", f.Call, "detail", f.Detail)
			if s.o.Audit != nil {
				s.o.Audit(f)
			}
			msgs[i] = f.Error()
		}
		writeError(w, http.StatusForbidden, strings.Join(msgs, "; "))
		return
	}
	s.proxy.ServeHTTP(w, r)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

func refuseCall(r *http.Request, path string) []dockerpolicy.Refusal {
	return []dockerpolicy.Refusal{{Rule: dockerpolicy.RuleEndpoint, Call: r.Method + " " + path,
		Detail: fmt.Sprintf("%s %s is not a call an app's install, upgrade or actions need", r.Method, path)}}
}

// check decides one call; it may rewrite the request (labels in create
// bodies, label filters in lists).
func (s *Server) check(r *http.Request, path string) ([]dockerpolicy.Refusal, error) {
	ctx := r.Context()
	seg := strings.Split(strings.Trim(path, "/"), "/")
	if out, handled, err := s.swarmCall(r, path, seg); handled {
		return out, err
	}
	get, post := r.Method == http.MethodGet, r.Method == http.MethodPost
	switch {
	case path == "/_ping" && (get || r.Method == http.MethodHead), path == "/version" && get, path == "/info" && get:
		return nil, nil
	case path == "/containers/json" && get, path == "/networks" && get, path == "/volumes" && get, path == "/events" && get:
		return nil, s.filter(r)
	case path == "/containers/create" && post:
		return s.createContainer(r)
	case path == "/networks/create" && post:
		return s.createNetwork(r)
	case path == "/volumes/create" && post:
		return s.createVolume(r)
	case path == "/images/create" && post:
		return s.pull(r, path)
	case get && (path == "/images/json" || strings.HasPrefix(path, "/images/") && strings.HasSuffix(path, "/json") ||
		strings.HasPrefix(path, "/distribution/") && strings.HasSuffix(path, "/json")):
		return nil, nil
	case seg[0] == "containers" && len(seg) >= 2:
		return s.containerCall(r, path, seg[1], strings.Join(seg[2:], "/"))
	case seg[0] == "exec" && len(seg) == 3 && (post && (seg[2] == "start" || seg[2] == "resize") || get && seg[2] == "json"):
		id, exists, err := s.owners.execContainer(ctx, seg[1])
		if err != nil || !exists {
			return nil, err // Docker answers an unknown exec 404
		}
		return s.owned(r, path, "container", id)
	case seg[0] == "networks" && len(seg) == 2 && (get || r.Method == http.MethodDelete):
		return s.owned(r, path, "network", seg[1])
	case seg[0] == "networks" && len(seg) == 3 && post && (seg[2] == "connect" || seg[2] == "disconnect"):
		out, err := s.owned(r, path, "network", seg[1])
		if err != nil || len(out) > 0 {
			return out, err
		}
		var body struct{ Container string }
		if err := s.readJSON(r, &body); err != nil {
			return []dockerpolicy.Refusal{{Rule: dockerpolicy.RuleEndpoint, Detail: "the body is not JSON: " + err.Error()}}, nil
		}
		return s.owned(r, path, "container", body.Container)
	case seg[0] == "volumes" && len(seg) == 2 && (get || r.Method == http.MethodDelete):
		return s.owned(r, path, "volume", seg[1])
	}
	return refuseCall(r, path), nil
}

// containerCalls are the calls on one container a run may make, by method.
var containerCalls = map[string][]string{
	http.MethodGet:    {"json", "logs", "top", "stats", "changes", "archive"},
	http.MethodHead:   {"archive"},
	http.MethodPut:    {"archive"},
	http.MethodPost:   {"start", "stop", "restart", "kill", "wait", "pause", "unpause", "resize", "attach", "exec", "rename"},
	http.MethodDelete: {""},
}

func (s *Server) containerCall(r *http.Request, path, id, sub string) ([]dockerpolicy.Refusal, error) {
	if !slices.Contains(containerCalls[r.Method], sub) {
		return refuseCall(r, path), nil
	}
	out, err := s.owned(r, path, "container", id)
	if err != nil || len(out) > 0 {
		return out, err
	}
	switch sub {
	case "rename":
		if name := r.URL.Query().Get("name"); !s.o.Policy.OwnName(name) {
			return []dockerpolicy.Refusal{{Rule: dockerpolicy.RuleObjectName, Detail: fmt.Sprintf("container name %q is outside %s", name, naming.Project(s.o.Policy.Installation))}}, nil
		}
	case "exec":
		var req container.ExecCreateRequest
		if err := s.readJSON(r, &req); err != nil {
			return []dockerpolicy.Refusal{{Rule: dockerpolicy.RuleEndpoint, Detail: "the body is not an exec request: " + err.Error()}}, nil
		}
		return dockerpolicy.CheckExec(s.o.Policy, &req), nil
	}
	return nil, nil
}

// owned refuses a call on an existing object that is not the
// installation's. A call on an object that does not exist goes through:
// Docker answers it 404, which compose asks for before it creates.
func (s *Server) owned(r *http.Request, path, kind, ref string) ([]dockerpolicy.Refusal, error) {
	var owner string
	var exists bool
	var err error
	switch kind {
	case "container":
		owner, exists, err = s.owners.ContainerOwner(r.Context(), ref)
	case "network":
		owner, exists, err = s.owners.NetworkOwner(r.Context(), ref)
	case "volume":
		owner, exists, err = s.owners.VolumeOwner(r.Context(), ref)
	}
	if err != nil || !exists || owner == s.o.Policy.Installation {
		return nil, err
	}
	return []dockerpolicy.Refusal{{Rule: dockerpolicy.RuleForeign, Call: r.Method + " " + path, Detail: fmt.Sprintf("%s %q is not this installation's", kind, ref)}}, nil
}

// readJSON decodes the request body into v and puts the bytes back, so
// the call is forwarded unchanged.
func (s *Server) readJSON(r *http.Request, v any) error {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return err
	}
	if len(data) > maxBody {
		return fmt.Errorf("the body is larger than %d bytes", maxBody)
	}
	r.Body = io.NopCloser(bytes.NewReader(data))
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	return json.Unmarshal(data, v)
}

// setJSON replaces the request body with v encoded: what Docker gets is
// exactly what the policy checked.
func setJSON(r *http.Request, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	r.Body = io.NopCloser(bytes.NewReader(data))
	r.ContentLength = int64(len(data))
	r.Header.Set("Content-Length", fmt.Sprint(len(data)))
	r.Header.Set("Content-Type", "application/json")
	r.TransferEncoding = nil
	return nil
}

func (s *Server) createContainer(r *http.Request) ([]dockerpolicy.Refusal, error) {
	var req container.CreateRequest
	if err := s.readJSON(r, &req); err != nil {
		return []dockerpolicy.Refusal{{Rule: dockerpolicy.RuleEndpoint, Detail: "the body is not a container create request: " + err.Error()}}, nil
	}
	out, err := dockerpolicy.CheckContainer(r.Context(), s.o.Policy, s.owners, r.URL.Query().Get("name"), &req)
	if err != nil || len(out) > 0 {
		return out, err
	}
	if req.Config.Labels == nil {
		req.Config.Labels = map[string]string{}
	}
	req.Config.Labels[naming.LabelApp] = s.o.Policy.Installation
	return nil, setJSON(r, req)
}

func (s *Server) createNetwork(r *http.Request) ([]dockerpolicy.Refusal, error) {
	var req network.CreateRequest
	if err := s.readJSON(r, &req); err != nil {
		return []dockerpolicy.Refusal{{Rule: dockerpolicy.RuleEndpoint, Detail: "the body is not a network create request: " + err.Error()}}, nil
	}
	if out := dockerpolicy.CheckNetwork(s.o.Policy, &req); len(out) > 0 {
		return out, nil
	}
	if req.Labels == nil {
		req.Labels = map[string]string{}
	}
	req.Labels[naming.LabelApp] = s.o.Policy.Installation
	return nil, setJSON(r, req)
}

func (s *Server) createVolume(r *http.Request) ([]dockerpolicy.Refusal, error) {
	var req volume.CreateRequest
	if err := s.readJSON(r, &req); err != nil {
		return []dockerpolicy.Refusal{{Rule: dockerpolicy.RuleEndpoint, Detail: "the body is not a volume create request: " + err.Error()}}, nil
	}
	if out := dockerpolicy.CheckVolume(s.o.Policy, &req); len(out) > 0 {
		return out, nil
	}
	if req.Labels == nil {
		req.Labels = map[string]string{}
	}
	req.Labels[naming.LabelApp] = s.o.Policy.Installation
	return nil, setJSON(r, req)
}

func (s *Server) pull(r *http.Request, path string) ([]dockerpolicy.Refusal, error) {
	q := r.URL.Query()
	if q.Get("fromSrc") != "" || q.Get("fromImage") == "" {
		return refuseCall(r, path+" (import)"), nil
	}
	ref := q.Get("fromImage")
	if tag := q.Get("tag"); tag != "" {
		if strings.HasPrefix(tag, "sha256:") {
			ref += "@" + tag
		} else {
			ref += ":" + tag
		}
	}
	return dockerpolicy.CheckPull(s.o.Policy, ref), nil
}

// filter adds label=sh.websoft9.app=<installation> to a list's or the
// event stream's filters: a run sees only its own objects.
func (s *Server) filter(r *http.Request) error {
	q := r.URL.Query()
	filters := map[string]map[string]bool{}
	if raw := q.Get("filters"); raw != "" {
		if err := json.Unmarshal([]byte(raw), &filters); err != nil {
			var legacy map[string][]string
			if err := json.Unmarshal([]byte(raw), &legacy); err != nil {
				return fmt.Errorf("filters %q: %w", raw, err)
			}
			filters = map[string]map[string]bool{}
			for k, vs := range legacy {
				filters[k] = map[string]bool{}
				for _, v := range vs {
					filters[k][v] = true
				}
			}
		}
	}
	if filters["label"] == nil {
		filters["label"] = map[string]bool{}
	}
	filters["label"][naming.LabelApp+"="+s.o.Policy.Installation] = true
	data, err := json.Marshal(filters)
	if err != nil {
		return err
	}
	q.Set("filters", string(data))
	r.URL.RawQuery = q.Encode()
	return nil
}

// upstream answers ownership questions from the real engine.
type upstream struct {
	client *http.Client
}

var _ dockerpolicy.Owners = (*upstream)(nil)

// get decodes GET path into v; exists is false on 404.
func (u *upstream) get(ctx context.Context, path string, v any) (exists bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker"+path, nil)
	if err != nil {
		return false, err
	}
	resp, err := u.client.Do(req)
	if err != nil {
		return false, fmt.Errorf("docker: %w", err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return false, nil
	case resp.StatusCode != http.StatusOK:
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return false, fmt.Errorf("docker: GET %s: %s: %s", path, resp.Status, bytes.TrimSpace(b))
	}
	return true, json.NewDecoder(resp.Body).Decode(v)
}

func (u *upstream) ContainerOwner(ctx context.Context, ref string) (string, bool, error) {
	if ref == "" {
		return "", false, nil
	}
	var c struct {
		Config struct{ Labels map[string]string }
	}
	ok, err := u.get(ctx, "/containers/"+url.PathEscape(ref)+"/json", &c)
	return c.Config.Labels[naming.LabelApp], ok, err
}

func (u *upstream) VolumeOwner(ctx context.Context, name string) (string, bool, error) {
	if name == "" {
		return "", false, nil
	}
	var v struct{ Labels map[string]string }
	ok, err := u.get(ctx, "/volumes/"+url.PathEscape(name), &v)
	return v.Labels[naming.LabelApp], ok, err
}

func (u *upstream) NetworkOwner(ctx context.Context, ref string) (string, bool, error) {
	if ref == "" {
		return "", false, nil
	}
	var n struct{ Labels map[string]string }
	ok, err := u.get(ctx, "/networks/"+url.PathEscape(ref), &n)
	return n.Labels[naming.LabelApp], ok, err
}

func (u *upstream) execContainer(ctx context.Context, id string) (string, bool, error) {
	var e struct{ ContainerID string }
	ok, err := u.get(ctx, "/exec/"+url.PathEscape(id)+"/json", &e)
	return e.ContainerID, ok, err
}
