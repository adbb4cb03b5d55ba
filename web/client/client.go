// Package client is StackHub's typed Go client of its HTTP API: the CLI,
// the bench and the integration tests speak to a server through it. It
// imports only the standard library and web/wire, the API's JSON shapes.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/websoft9/stackhub/web/wire"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
)

// Client calls a running StackHub server over its HTTP API, never its
// database: /api/v1 answers plain JSON, the seed endpoints the envelope
// {code, message, data}. Every method takes ctx first and sends the bearer
// token; a failure answer becomes an *APIError carrying the HTTP status and
// the server's message, and a server that cannot be reached an
// *UnreachableError. Messages are asked for in English.
// The API's JSON shapes (package web/wire), shared with the server.
type (
	App         = wire.App
	Job         = wire.Job
	JobEvent    = wire.JobEvent
	Uninstalled = wire.Uninstalled
	CatalogApp  = wire.CatalogApp
	// CatalogSummary is a catalog entry as the list shows it.
	CatalogSummary = wire.CatalogSummary
	CatalogPort    = wire.CatalogPort
	ServerStatus   = wire.ServerStatus
	Risk           = wire.Risk
	Token          = wire.Token
	Credentials    = wire.Credentials
	// The permissions bundles declare and the operator's grants of them.
	Permission     = wire.Permission
	Grant          = wire.Grant
	AppPermissions = wire.AppPermissions
	// An app's settings, what an upgrade would change, its containers' use.
	AppSettings    = wire.AppSettings
	UpgradePlan    = wire.UpgradePlan
	ContainerStats = wire.ContainerStats
	// Backups and the repositories they live in.
	Backup            = wire.Backup
	Repository        = wire.Repository
	RepositoryRequest = wire.RepositoryRequest
	VerifyResult      = wire.VerifyResult
	Retention         = wire.Retention
	BackupPolicy      = wire.BackupPolicy
	// Domains the gateway serves.
	Domain        = wire.Domain
	DomainRequest = wire.DomainRequest
	Certificate   = wire.Certificate
	Gateway       = wire.Gateway
)

type Client struct {
	// BaseURL is the server's root, e.g. http://127.0.0.1:9000, without a
	// trailing slash; a path prefix (behind a proxy) is kept.
	BaseURL string
	// Token is the API token sent as "Authorization: Bearer"; empty sends
	// none (the server answers 401). It never appears in an error.
	Token string
	// HTTP sends the requests. It has no overall timeout: logs and job
	// events stream for as long as they last.
	HTTP *http.Client
	// Reconnects is how many times in a row FollowJob reconnects a dropped
	// event stream before giving up; ReconnectDelay is the first wait
	// between attempts, doubled each time up to 5s.
	Reconnects     int
	ReconnectDelay time.Duration
}

// NewClient returns a client for the server at baseURL with token.
func NewClient(baseURL, token string) *Client {
	return &Client{
		BaseURL:        strings.TrimRight(baseURL, "/"),
		Token:          token,
		HTTP:           &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()},
		Reconnects:     8,
		ReconnectDelay: 500 * time.Millisecond,
	}
}

// APIError is a failure answered by the server.
type APIError struct {
	// Status is the HTTP status, e.g. 404.
	Status int
	// Code is the server's error class ("not_found", "conflict", …), empty
	// when the answer carried none (a proxy's page).
	Code string
	// Message is the server's explanation, safe to show.
	Message string
	// Fields, when the server refused inputs by name (parameter values),
	// says what is wrong with each.
	Fields map[string]string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status)
}

// UnreachableError says the request never got an answer: connection
// refused, DNS, TLS, or a connection dropped mid-answer.
type UnreachableError struct {
	URL string
	Err error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach StackHub at %s: %v", e.URL, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Job statuses.
const (
	JobRunning   = "running"
	JobSucceeded = "succeeded"
	JobFailed    = "failed"
	JobCanceled  = "canceled"
)

// Installing is the answer to an install: the app as reserved (ports
// allocated) and the job that installs it. An uninstall answers the same:
// the app as marked uninstalling and the job that removes it.
type Installing struct {
	App   App
	JobID string
}

// LogsOptions select the log lines AppLogs streams.
type LogsOptions struct {
	// Tail is how many of the last lines to send; 0 sends them all.
	Tail int
	// Follow keeps the answer open for new lines.
	Follow bool
	// Container is one of the app's containers; empty is the main one.
	Container string
}

// ListApps returns every installed app (GET /api/v1/apps).
func (c *Client) ListApps(ctx context.Context) ([]App, error) {
	var out []App
	_, err := c.callJSON(ctx, http.MethodGet, "/api/v1/apps", nil, nil, &out)
	return out, err
}

// GetApp returns installed app name (GET /api/v1/apps/{name}); 404 when
// it is not installed.
func (c *Client) GetApp(ctx context.Context, name string) (App, error) {
	var out App
	_, err := c.callJSON(ctx, http.MethodGet, "/api/v1/apps/"+url.PathEscape(name), nil, nil, &out)
	return out, err
}

// InstallApp starts installing catalog app app under instance name (empty:
// the catalog name) with POST /api/v1/apps. It returns once the server has
// reserved the ports; the job does the rest. 404 for an app not in the
// catalog, 409 when the name is taken.
func (c *Client) InstallApp(ctx context.Context, app, name string) (Installing, error) {
	return c.InstallAppWith(ctx, app, name, nil)
}

// InstallAppWith is InstallApp with values for the bundle's parameters;
// values the server refuses come back as an *APIError whose Fields name
// each parameter with its reason (HTTP 422).
func (c *Client) InstallAppWith(ctx context.Context, app, name string, parameters map[string]any) (Installing, error) {
	return c.InstallAppOn(ctx, app, name, "", parameters)
}

// InstallAppOn is InstallAppWith placing the app on a Swarm node (its ID
// or hostname; empty lets the server pick one when its engine is a Swarm
// manager). 400 when the server's engine is not a manager or the node is
// not in the Swarm, 412 when the node cannot take the app.
func (c *Client) InstallAppOn(ctx context.Context, app, name, node string, parameters map[string]any) (Installing, error) {
	body := map[string]any{"app": app}
	if node != "" {
		body["node"] = node
	}
	if name != "" {
		body["name"] = name
	}
	if len(parameters) > 0 {
		body["parameters"] = parameters
	}
	return c.callAppJob(ctx, http.MethodPost, "/api/v1/apps", nil, body)
}

// UninstallApp starts removing installed app name (DELETE
// /api/v1/apps/{name}), its volumes too when purge is set. It returns once
// the job is started; the finished job's outputs say what went (see
// uninstalledFrom).
func (c *Client) UninstallApp(ctx context.Context, name string, purge bool) (Installing, error) {
	q := url.Values{}
	if purge {
		q.Set("purge", "true")
	}
	return c.callAppJob(ctx, http.MethodDelete, "/api/v1/apps/"+url.PathEscape(name), q, nil)
}

// callAppJob sends a request answered 202 with {app, job} and the job's
// path as Location.
func (c *Client) callAppJob(ctx context.Context, method, p string, q url.Values, body any) (Installing, error) {
	var out struct {
		App App    `json:"app"`
		Job string `json:"job"`
	}
	hdr, err := c.callJSON(ctx, method, p, q, body, &out)
	if err != nil {
		return Installing{}, err
	}
	job := hdr.Get("Location")
	if job == "" {
		job = out.Job
	}
	id := out.App.RunID
	if job != "" {
		id = path.Base(job)
	}
	return Installing{App: out.App, JobID: id}, nil
}

// UpgradeApp starts an upgrade of name to the catalog's version with
// parameters overriding the stored values (POST /api/v1/apps/{name}/upgrade)
// and returns its job.
func (c *Client) UpgradeApp(ctx context.Context, name string, parameters map[string]any) (Job, error) {
	var body any
	if len(parameters) > 0 {
		body = map[string]any{"parameters": parameters}
	}
	var out Job
	_, err := c.callJSON(ctx, http.MethodPost, "/api/v1/apps/"+url.PathEscape(name)+"/upgrade", nil, body, &out)
	return out, err
}

// PlanUpgrade tells what UpgradeApp with the same parameters would do,
// without doing it (POST /api/v1/apps/{name}/upgrade/plan).
func (c *Client) PlanUpgrade(ctx context.Context, name string, parameters map[string]any) (UpgradePlan, error) {
	var out UpgradePlan
	_, err := c.callJSON(ctx, http.MethodPost, "/api/v1/apps/"+url.PathEscape(name)+"/upgrade/plan", nil,
		map[string]any{"parameters": parameters}, &out)
	return out, err
}

// AppSettings returns name's current settings, sensitive ones only said
// to be set (GET /api/v1/apps/{name}/settings).
func (c *Client) AppSettings(ctx context.Context, name string) (AppSettings, error) {
	var out AppSettings
	_, err := c.callJSON(ctx, http.MethodGet, "/api/v1/apps/"+url.PathEscape(name)+"/settings", nil, nil, &out)
	return out, err
}

// AppStats samples the resource use of name's running containers
// (GET /api/v1/apps/{name}/stats).
func (c *Client) AppStats(ctx context.Context, name string) ([]ContainerStats, error) {
	var out []ContainerStats
	_, err := c.callJSON(ctx, http.MethodGet, "/api/v1/apps/"+url.PathEscape(name)+"/stats", nil, nil, &out)
	return out, err
}

// AppAction starts action (start, stop, restart or one of the bundle's
// custom actions) on name (POST /api/v1/apps/{name}/actions/{action}) and
// returns its job.
func (c *Client) AppAction(ctx context.Context, name, action string) (Job, error) {
	var out Job
	_, err := c.callJSON(ctx, http.MethodPost, "/api/v1/apps/"+url.PathEscape(name)+"/actions/"+url.PathEscape(action), nil, nil, &out)
	return out, err
}

// AppLogs opens the log text of one of name's containers (GET
// /api/v1/apps/{name}/logs). The caller reads and closes it; with Follow it
// stays open until ctx is done.
func (c *Client) AppLogs(ctx context.Context, name string, opts LogsOptions) (io.ReadCloser, error) {
	q := url.Values{}
	if opts.Tail > 0 {
		q.Set("tail", strconv.Itoa(opts.Tail))
	}
	if opts.Follow {
		q.Set("follow", "true")
	}
	if opts.Container != "" {
		q.Set("container", opts.Container)
	}
	resp, err := c.send(ctx, http.MethodGet, "/api/v1/apps/"+url.PathEscape(name)+"/logs", q, nil, nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// GetJob returns job id (GET /api/v1/jobs/{id}).
func (c *Client) GetJob(ctx context.Context, id string) (Job, error) {
	var out Job
	_, err := c.callJSON(ctx, http.MethodGet, "/api/v1/jobs/"+url.PathEscape(id), nil, nil, &out)
	return out, err
}

// CancelJob asks the server to stop running job id (DELETE
// /api/v1/jobs/{id}); the job cleans up and its events end with
// "canceled". 409 when the job is not running.
func (c *Client) CancelJob(ctx context.Context, id string) (Job, error) {
	var out Job
	_, err := c.callJSON(ctx, http.MethodDelete, "/api/v1/jobs/"+url.PathEscape(id), nil, nil, &out)
	return out, err
}

// Catalog returns every catalog entry q selects (GET /api/v1/catalog, page
// after page; q.Offset is ignored and q.Limit is the page size).
func (c *Client) Catalog(ctx context.Context, q CatalogQuery) ([]CatalogSummary, error) {
	out := []CatalogSummary{}
	q.Offset = 0
	for {
		page, total, err := c.CatalogPage(ctx, q)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		q.Offset += len(page)
		if len(page) == 0 || q.Offset >= total {
			return out, nil
		}
	}
}

// CatalogQuery selects catalog entries: every word of Search (in a name,
// title, description or category), one Category, only Names; Offset and
// Limit (1-200, the server's 50 when 0) select a page.
type CatalogQuery struct {
	Search   string
	Category string
	Names    []string
	Offset   int
	Limit    int
}

// CatalogPage returns one page of catalog summaries (GET /api/v1/catalog)
// and how many entries match in all.
func (c *Client) CatalogPage(ctx context.Context, q CatalogQuery) ([]CatalogSummary, int, error) {
	v := url.Values{}
	if q.Search != "" {
		v.Set("q", q.Search)
	}
	if q.Category != "" {
		v.Set("category", q.Category)
	}
	for _, n := range q.Names {
		v.Add("name", n)
	}
	if q.Offset > 0 {
		v.Set("offset", strconv.Itoa(q.Offset))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var out []CatalogSummary
	h, err := c.callJSON(ctx, http.MethodGet, "/api/v1/catalog", v, nil, &out)
	if err != nil {
		return nil, 0, err
	}
	total, err := strconv.Atoi(h.Get("X-Total-Count"))
	if err != nil {
		return nil, 0, fmt.Errorf("GET /api/v1/catalog: X-Total-Count %q: %w", h.Get("X-Total-Count"), err)
	}
	return out, total, nil
}

// CatalogApp returns catalog app name (GET /api/v1/catalog/{name}).
func (c *Client) CatalogApp(ctx context.Context, name string) (CatalogApp, error) {
	var out CatalogApp
	_, err := c.callJSON(ctx, http.MethodGet, "/api/v1/catalog/"+url.PathEscape(name), nil, nil, &out)
	return out, err
}

// SearchServer returns the host's figures and risks through the seed
// endpoint /searchServer.
func (c *Client) SearchServer(ctx context.Context) (ServerStatus, error) {
	var out ServerStatus
	err := c.callSeed(ctx, "/searchServer", nil, &out)
	return out, err
}

// ListTokens returns the API tokens, never their secrets (GET /api/v1/tokens).
func (c *Client) ListTokens(ctx context.Context) ([]Token, error) {
	var out []Token
	_, err := c.callJSON(ctx, http.MethodGet, "/api/v1/tokens", nil, nil, &out)
	return out, err
}

// CreateToken makes a token (POST /api/v1/tokens); the answer holds the
// secret, shown this once.
func (c *Client) CreateToken(ctx context.Context, name, scope string) (Token, error) {
	var out Token
	_, err := c.callJSON(ctx, http.MethodPost, "/api/v1/tokens", nil, map[string]string{"name": name, "scope": scope}, &out)
	return out, err
}

// RevokeToken revokes token id (DELETE /api/v1/tokens/{id}).
func (c *Client) RevokeToken(ctx context.Context, id string) error {
	_, err := c.callJSON(ctx, http.MethodDelete, "/api/v1/tokens/"+url.PathEscape(id), nil, nil, nil)
	return err
}

// AppRuns returns name's runs, newest first, at most limit (GET
// /api/v1/apps/{name}/runs).
func (c *Client) AppRuns(ctx context.Context, name string, limit int) ([]Job, error) {
	var out []Job
	_, err := c.callJSON(ctx, http.MethodGet, "/api/v1/apps/"+url.PathEscape(name)+"/runs", url.Values{"limit": {strconv.Itoa(limit)}}, nil, &out)
	return out, err
}

// Credentials reveals name's generated secrets, once (POST
// /api/v1/apps/{name}/credentials): later calls get their names only.
func (c *Client) Credentials(ctx context.Context, name string) (Credentials, error) {
	var out Credentials
	_, err := c.callJSON(ctx, http.MethodPost, "/api/v1/apps/"+url.PathEscape(name)+"/credentials", nil, nil, &out)
	return out, err
}

// PullBundle adds the bundle at ref to the catalog (POST
// /api/v1/catalog/pull); force replaces an entry of the same name and
// version with another digest (409 otherwise).
func (c *Client) PullBundle(ctx context.Context, ref string, force bool) (CatalogApp, error) {
	var out CatalogApp
	_, err := c.callJSON(ctx, http.MethodPost, "/api/v1/catalog/pull", nil, map[string]any{"reference": ref, "force": force}, &out)
	return out, err
}

// ImportBundle uploads a CNAB archive to the catalog (POST
// /api/v1/catalog/import), as PullBundle does for a reference.
func (c *Client) ImportBundle(ctx context.Context, archive io.Reader, force bool) (CatalogApp, error) {
	q := url.Values{}
	if force {
		q.Set("force", "true")
	}
	resp, err := c.send(ctx, http.MethodPost, "/api/v1/catalog/import", q, archive, map[string]string{"Accept": "application/json"})
	if err != nil {
		return CatalogApp{}, err
	}
	defer resp.Body.Close()
	var out CatalogApp
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return CatalogApp{}, c.readFailed(ctx, http.MethodPost, "/api/v1/catalog/import", err)
	}
	return out, nil
}

// AddBundleDir uploads a bundle directory's files, a tar (gzip or not), to
// the catalog (POST /api/v1/catalog/bundles, admins only): 400 with every
// lint error or policy violation, 409 when the name is taken (see force,
// as for ImportBundle).
func (c *Client) AddBundleDir(ctx context.Context, files io.Reader, force bool) (CatalogApp, error) {
	q := url.Values{}
	if force {
		q.Set("force", "true")
	}
	resp, err := c.send(ctx, http.MethodPost, "/api/v1/catalog/bundles", q, files, map[string]string{"Accept": "application/json"})
	if err != nil {
		return CatalogApp{}, err
	}
	defer resp.Body.Close()
	var out CatalogApp
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return CatalogApp{}, c.readFailed(ctx, http.MethodPost, "/api/v1/catalog/bundles", err)
	}
	return out, nil
}

// Server returns the host's figures, risks and an hour of history (GET
// /api/v1/server), as raw JSON.
func (c *Client) Server(ctx context.Context) (json.RawMessage, error) {
	var out json.RawMessage
	_, err := c.callJSON(ctx, http.MethodGet, "/api/v1/server", nil, nil, &out)
	return out, err
}

// AppPermissions returns what catalog app name's bundle declares beyond
// the default bundle policy, in plain words, with its live grant and what
// an install still lacks (GET /api/v1/catalog/{name}/permissions).
func (c *Client) AppPermissions(ctx context.Context, name string) (AppPermissions, error) {
	var out AppPermissions
	_, err := c.callJSON(ctx, http.MethodGet, "/api/v1/catalog/"+url.PathEscape(name)+"/permissions", nil, nil, &out)
	return out, err
}

// GrantPermissions grants app's bundle of digest exactly permissions, its
// declared set (POST /api/v1/catalog/{name}/grants, admins only): 400 when
// they are not exactly what it declares, 409 when the catalog's bundle is
// no longer digest. created is false when the same grant was already
// recorded (it is returned as it is).
func (c *Client) GrantPermissions(ctx context.Context, app, digest string, permissions []string) (g Grant, created bool, err error) {
	if permissions == nil {
		permissions = []string{}
	}
	p := "/api/v1/catalog/" + url.PathEscape(app) + "/grants"
	resp, err := c.send(ctx, http.MethodPost, p, nil, wire.GrantRequest{Digest: digest, Permissions: permissions},
		map[string]string{"Accept": "application/json"})
	if err != nil {
		return Grant{}, false, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&g); err != nil {
		return Grant{}, false, c.readFailed(ctx, http.MethodPost, p, err)
	}
	return g, resp.StatusCode == http.StatusCreated, nil
}

// ListGrants returns the live grants, oldest first (GET /api/v1/grants).
func (c *Client) ListGrants(ctx context.Context) ([]Grant, error) {
	var out []Grant
	_, err := c.callJSON(ctx, http.MethodGet, "/api/v1/grants", nil, nil, &out)
	return out, err
}

// RevokeGrant revokes grant id (DELETE /api/v1/grants/{id}, admins only):
// later installs and upgrades of its bundle are refused until it is
// granted again.
func (c *Client) RevokeGrant(ctx context.Context, id string) error {
	_, err := c.callJSON(ctx, http.MethodDelete, "/api/v1/grants/"+url.PathEscape(id), nil, nil, nil)
	return err
}

// Refusal is one call of a bundle the bundle policy refused.
type Refusal struct {
	At           time.Time `json:"at"`
	Installation string    `json:"installation"`
	Run          string    `json:"run"`
	Rule         string    `json:"rule"`
	Call         string    `json:"call"`
	Detail       string    `json:"detail"`
}

// Refusals reads the audit log of refused bundle calls, newest first
// (GET /api/v1/audit/refusals, admins only), of one installation or all
// (installation "").
func (c *Client) Refusals(ctx context.Context, installation string, limit int) ([]Refusal, error) {
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if installation != "" {
		q.Set("installation", installation)
	}
	var out []Refusal
	_, err := c.callJSON(ctx, http.MethodGet, "/api/v1/audit/refusals", q, nil, &out)
	return out, err
}

// Do sends one request as given, with the client's token (and no
// Accept-Language unless header has one: the server's default language
// answers), and returns the answer whatever its status, for the caller to read and
// close. It is for callers that judge failure answers themselves (tests of
// the API's refusals, tools showing a raw answer); body, when not nil, is
// sent with header's Content-Type or else application/json. Only a request
// that got no answer is an error (*UnreachableError or ctx's).
func (c *Client) Do(ctx context.Context, method, p string, body io.Reader, header http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+p, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, p, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	for k, vs := range header {
		req.Header.Del(k)
		for _, v := range vs {
			if v != "" {
				req.Header.Add(k, v)
			}
		}
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &UnreachableError{URL: c.BaseURL, Err: err}
	}
	return resp, nil
}

// callJSON sends a request with body as JSON (nil: none) and decodes a
// success answer into out (nil: discard). It returns the answer's header.
func (c *Client) callJSON(ctx context.Context, method, p string, q url.Values, body, out any) (http.Header, error) {
	resp, err := c.send(ctx, method, p, q, body, map[string]string{"Accept": "application/json"})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if out == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.Header, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return nil, c.readFailed(ctx, method, p, err)
	}
	return resp.Header, nil
}

// callSeed GETs seed endpoint p with query q and decodes the envelope's
// data into out; code "0" is an *APIError even under a 2xx status.
func (c *Client) callSeed(ctx context.Context, p string, q url.Values, out any) error {
	resp, err := c.send(ctx, http.MethodGet, p, q, nil, map[string]string{"Accept": "application/json"})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var env struct {
		Code    string          `json:"code"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return c.readFailed(ctx, http.MethodGet, p, err)
	}
	if env.Code != "1" {
		return &APIError{Status: resp.StatusCode, Message: env.Message}
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		return fmt.Errorf("GET %s: decode data: %w", p, err)
	}
	return nil
}

// readFailed classifies an error met while reading an answer.
func (c *Client) readFailed(ctx context.Context, method, p string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	if errors.As(err, &syn) || errors.As(err, &typ) {
		return fmt.Errorf("%s %s: decode answer: %w", method, p, err)
	}
	return &UnreachableError{URL: c.BaseURL, Err: err}
}

// send does one request and returns a 2xx answer for the caller to read
// and close; anything else becomes an error.
func (c *Client) send(ctx context.Context, method, p string, q url.Values, body any, header map[string]string) (*http.Response, error) {
	u := c.BaseURL + p
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case io.Reader: // an upload, sent as it is
		rd, ctype = b, "application/gzip"
	default:
		data, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("%s %s: encode body: %w", method, p, err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, p, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", ctype)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	req.Header.Set("Accept-Language", "en")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &UnreachableError{URL: c.BaseURL, Err: err}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, decodeFailure(resp)
}

// decodeFailure reads a failure answer: /api/v1's {error, message}, the
// seed envelope {code: "0", message, data: {error}}, or anything else (a
// proxy's page), whose status text then stands as the message.
func decodeFailure(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &APIError{Status: resp.StatusCode}
	var body struct {
		Error   string            `json:"error"`
		Message string            `json:"message"`
		Fields  map[string]string `json:"fields"`
		Data    json.RawMessage   `json:"data"`
	}
	if json.Unmarshal(b, &body) == nil {
		e.Code, e.Message, e.Fields = body.Error, body.Message, body.Fields
		if e.Code == "" && len(body.Data) > 0 {
			var data struct {
				Error string `json:"error"`
			}
			if json.Unmarshal(body.Data, &data) == nil {
				e.Code = data.Error
			}
		}
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
		if e.Message == "" {
			e.Message = resp.Status
		}
	}
	return e
}

// repoQuery is ?repository=id, or none for the default repository.
func repoQuery(repository string) url.Values {
	if repository == "" {
		return nil
	}
	return url.Values{"repository": {repository}}
}

// BackUp starts a backup of app name into repository ("" for the default;
// POST /api/v1/apps/{name}/backups); the job's output "backup" names it.
func (c *Client) BackUp(ctx context.Context, name, repository string) (Job, error) {
	var out Job
	_, err := c.callJSON(ctx, http.MethodPost, "/api/v1/apps/"+url.PathEscape(name)+"/backups", nil, map[string]any{"repository": repository}, &out)
	return out, err
}

// Backups lists the backups of app name ("" for every app), newest first.
func (c *Client) Backups(ctx context.Context, name, repository string) ([]Backup, error) {
	path := "/api/v1/backups"
	if name != "" {
		path = "/api/v1/apps/" + url.PathEscape(name) + "/backups"
	}
	var out []Backup
	_, err := c.callJSON(ctx, http.MethodGet, path, repoQuery(repository), nil, &out)
	return out, err
}

// Restore puts backup id back into installation name ("" for the backup's
// own; POST /api/v1/backups/{id}/restore) and returns its job.
func (c *Client) Restore(ctx context.Context, id, repository, name string) (App, Job, error) {
	return c.RestoreOn(ctx, id, repository, name, "")
}

// RestoreOn is Restore into a name not installed, placed on Swarm node
// node ("" lets the server pick).
func (c *Client) RestoreOn(ctx context.Context, id, repository, name, node string) (App, Job, error) {
	var out struct {
		App App `json:"app"`
		Job Job `json:"job"`
	}
	_, err := c.callJSON(ctx, http.MethodPost, "/api/v1/backups/"+url.PathEscape(id)+"/restore", nil,
		map[string]any{"repository": repository, "name": name, "node": node}, &out)
	return out.App, out.Job, err
}

// VerifyBackup reads backup id ("" for all of them) back.
func (c *Client) VerifyBackup(ctx context.Context, id, repository string) (VerifyResult, error) {
	if id == "" {
		id = "all"
	}
	var out VerifyResult
	_, err := c.callJSON(ctx, http.MethodPost, "/api/v1/backups/"+url.PathEscape(id)+"/verify", nil, map[string]any{"repository": repository}, &out)
	return out, err
}

// DeleteBackup deletes backup id.
func (c *Client) DeleteBackup(ctx context.Context, id, repository string) error {
	_, err := c.callJSON(ctx, http.MethodDelete, "/api/v1/backups/"+url.PathEscape(id), repoQuery(repository), nil, nil)
	return err
}

// PruneBackups applies keep to app name's backups and returns the IDs removed.
func (c *Client) PruneBackups(ctx context.Context, name, repository string, keep Retention) ([]string, error) {
	var out struct {
		Removed []string `json:"removed"`
	}
	_, err := c.callJSON(ctx, http.MethodPost, "/api/v1/backups/prune", nil, map[string]any{"repository": repository, "app": name, "keep": keep}, &out)
	return out.Removed, err
}

// Repositories lists the backup repositories (admins).
func (c *Client) Repositories(ctx context.Context) ([]Repository, error) {
	var out []Repository
	_, err := c.callJSON(ctx, http.MethodGet, "/api/v1/repositories", nil, nil, &out)
	return out, err
}

// AddRepository adds a backup repository (admins).
func (c *Client) AddRepository(ctx context.Context, req RepositoryRequest) (Repository, error) {
	var out Repository
	_, err := c.callJSON(ctx, http.MethodPost, "/api/v1/repositories", nil, req, &out)
	return out, err
}

// RemoveRepository forgets backup repository id (admins); its data stays.
func (c *Client) RemoveRepository(ctx context.Context, id string) error {
	_, err := c.callJSON(ctx, http.MethodDelete, "/api/v1/repositories/"+url.PathEscape(id), nil, nil, nil)
	return err
}

// policyPath is app name's policy, or the default for "".
func policyPath(name string) string {
	if name == "" {
		return "/api/v1/backup-policy"
	}
	return "/api/v1/apps/" + url.PathEscape(name) + "/backup-policy"
}

// BackupPolicy returns the policy app name follows ("" for the default).
func (c *Client) BackupPolicy(ctx context.Context, name string) (BackupPolicy, error) {
	var out BackupPolicy
	_, err := c.callJSON(ctx, http.MethodGet, policyPath(name), nil, nil, &out)
	return out, err
}

// SetBackupPolicy sets app name's own policy ("" for the default).
func (c *Client) SetBackupPolicy(ctx context.Context, name string, p BackupPolicy) (BackupPolicy, error) {
	var out BackupPolicy
	_, err := c.callJSON(ctx, http.MethodPut, policyPath(name), nil, map[string]any{"schedule": p.Schedule, "repository": p.Repository, "keep": p.Keep}, &out)
	return out, err
}

// ClearBackupPolicy removes app name's own policy: the default applies.
func (c *Client) ClearBackupPolicy(ctx context.Context, name string) error {
	_, err := c.callJSON(ctx, http.MethodDelete, policyPath(name), nil, nil, nil)
	return err
}

// domainsPath is app name's domains, or the console's ("").
func domainsPath(name string) string {
	if name == "" {
		return "/api/v1/gateway/domains"
	}
	return "/api/v1/apps/" + url.PathEscape(name) + "/domains"
}

// Domains lists app name's domains and their certificates.
func (c *Client) Domains(ctx context.Context, name string) ([]Domain, error) {
	if name == "" {
		g, err := c.Gateway(ctx)
		return g.Domains, err
	}
	var out []Domain
	_, err := c.callJSON(ctx, http.MethodGet, domainsPath(name), nil, nil, &out)
	return out, err
}

// AddDomain gives app name (the console for "") a domain.
func (c *Client) AddDomain(ctx context.Context, name string, req DomainRequest) (Domain, error) {
	var out Domain
	_, err := c.callJSON(ctx, http.MethodPost, domainsPath(name), nil, req, &out)
	return out, err
}

// RemoveDomain takes domain from app name (the console for "") and
// returns the job publishing the app's web port everywhere again when that
// was its last domain ("" for none).
func (c *Client) RemoveDomain(ctx context.Context, name, domain string) (string, error) {
	var out struct {
		Rebind string `json:"rebind"`
	}
	_, err := c.callJSON(ctx, http.MethodDelete, domainsPath(name)+"/"+url.PathEscape(domain), nil, nil, &out)
	return out.Rebind, err
}

// Gateway describes the gateway and the console's domains.
func (c *Client) Gateway(ctx context.Context) (Gateway, error) {
	var out Gateway
	_, err := c.callJSON(ctx, http.MethodGet, "/api/v1/gateway", nil, nil, &out)
	return out, err
}
