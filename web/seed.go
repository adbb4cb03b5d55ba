package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/web/wire"
)

// seedRoute is one seed endpoint. The seed table below is the one place
// a seed endpoint is described: the routes (GET and POST), the keys bind
// accepts, the auth rule (a mutating endpoint needs an admin token or the
// CSRF header, over GET too) and the endpoint's OpenAPI entry all come
// from it.
type seedRoute struct {
	path    string
	handler func(*Server) echo.HandlerFunc
	// keys are the input keys accepted; appName is required wherever it
	// is accepted, except by installApp given a reference.
	keys []string
	// mutating endpoints change things, whatever the method.
	mutating bool
	summary  string
}

// seedRoutes are the seed's endpoints.
var seedRoutes = []seedRoute{
	{"/installApp", func(s *Server) echo.HandlerFunc { return s.installApp }, []string{"appName", "name", "force", "reference", "parameters", "node"}, true,
		"Install a catalog app (appName) or a bundle by OCI reference; answers 202 while installing"},
	{"/uninstallApp", func(s *Server) echo.HandlerFunc { return s.uninstallApp }, []string{"appName", "purge"}, true,
		"Uninstall an app and wait for it; purge removes its volumes"},
	{"/getAppInfo", func(s *Server) echo.HandlerFunc { return s.getAppInfo }, []string{"appName"}, false,
		"An app's status (0 installing, 1 running, 2 failed), ports and containers"},
	{"/getAllAppInfo", func(s *Server) echo.HandlerFunc { return s.getAllAppInfo }, nil, false,
		"Every installed app, as getAppInfo"},
	{"/uninstallAllApp", func(s *Server) echo.HandlerFunc { return s.uninstallAllApp }, []string{"purge"}, true,
		"Uninstall every app, reporting each"},
	{"/appList", func(s *Server) echo.HandlerFunc { return s.appList }, []string{"search", "category", "page", "pageSize"}, false,
		"The catalog, a page at a time (search and category filter it; pageSize 1-200, 50 by default; total counts the matches)"},
	{"/appDetail", func(s *Server) echo.HandlerFunc { return s.appDetail }, []string{"appName"}, false, "One catalog app"},
	{"/searchServer", func(s *Server) echo.HandlerFunc { return s.searchServer }, nil, false, "The host's figures and risks"},
}

// seedRoutesByPath indexes seedRoutes (filled by init: the handlers
// refer to it through bind).
var seedRoutesByPath = map[string]seedRoute{}

func init() {
	for _, r := range seedRoutes {
		seedRoutesByPath[r.path] = r
	}
}

func (s *Server) registerSeedRoutes(g *echo.Group) {
	for _, r := range seedRoutes {
		g.GET(r.path, r.handler(s))
		g.POST(r.path, r.handler(s))
	}
}

// secretKeys are keys that must never travel in a URL (query strings end
// up in logs, proxies and browser history): a GET naming one is refused.
var secretKeys = []string{"token", "access_token", "password", "secret", "parameters", "credentials"}

// seedInput is what the seed endpoints accept. Unknown keys are refused.
type seedInput struct {
	AppName string
	Name    string
	Purge   bool
	Force   bool
	// Reference (installApp) installs a bundle from an OCI registry
	// instead of a catalog app.
	Reference string
	// Parameters (installApp) are values for the bundle's parameters: a
	// JSON object, in a POST body only.
	Parameters map[string]any
	// Node (installApp) places the app on this Swarm node.
	Node string
	// Search, Category, Page and PageSize (appList) select a page of the
	// catalog.
	Search   string
	Category string
	Page     *int
	PageSize *int
}

// bind reads the input from the query string (GET) or a JSON object body
// (POST), refusing unknown keys and wrong types with EINVALID.
func bind(c echo.Context) (seedInput, error) {
	allowed := seedRoutesByPath[c.Path()].keys
	var in seedInput
	fields := map[string]any{}
	if c.Request().Method == http.MethodPost {
		body, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return in, orchestrator.WrapError(orchestrator.EINVALID, err, "cannot read the request body")
		}
		if len(bytes.TrimSpace(body)) > 0 {
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.UseNumber()
			if err := dec.Decode(&fields); err != nil {
				return in, orchestrator.WrapError(orchestrator.EINVALID, err, "the body must be a JSON object: %v", err)
			}
			if fields == nil { // null
				return in, orchestrator.Errorf(orchestrator.EINVALID, "the body must be a JSON object, not null")
			}
			if _, err := dec.Token(); err != io.EOF { // More misses a stray ] or }
				return in, orchestrator.Errorf(orchestrator.EINVALID, "the body must hold one JSON object")
			}
		}
	}
	for k, vs := range c.QueryParams() {
		if slices.Contains(secretKeys, strings.ToLower(k)) {
			return in, orchestrator.Errorf(orchestrator.EINVALID, "%s never travels in a URL: send credentials in the Authorization header and secrets in a POST body", k)
		}
		if _, dup := fields[k]; dup || len(vs) != 1 {
			return in, orchestrator.Errorf(orchestrator.EINVALID, "%s is given more than once", k)
		}
		fields[k] = queryValue(vs[0])
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !slices.Contains(allowed, k) {
			return in, orchestrator.Errorf(orchestrator.EINVALID, "unknown field %q (accepted: %s)", k, acceptedKeys(allowed))
		}
		v := fields[k]
		var err error
		switch k {
		case "appName":
			in.AppName, err = asString(k, v)
		case "name":
			in.Name, err = asString(k, v)
		case "purge":
			in.Purge, err = asBool(k, v)
		case "force":
			in.Force, err = asBool(k, v)
		case "reference":
			in.Reference, err = asString(k, v)
		case "parameters":
			in.Parameters, err = asObject(k, v)
		case "node":
			in.Node, err = asString(k, v)
		case "search":
			in.Search, err = asString(k, v)
		case "category":
			in.Category, err = asString(k, v)
		case "page":
			in.Page, err = asInt(k, v)
		case "pageSize":
			in.PageSize, err = asInt(k, v)
		}
		if err != nil {
			return in, err
		}
	}
	if in.AppName == "" && in.Reference == "" && slices.Contains(allowed, "appName") {
		if slices.Contains(allowed, "reference") {
			return in, orchestrator.Errorf(orchestrator.EINVALID, "appName or reference is required")
		}
		return in, orchestrator.Errorf(orchestrator.EINVALID, "appName is required")
	}
	return in, nil
}

// queryValue marks a query-string value so asBool accepts 1/0/true/false.
type queryValue string

func asString(k string, v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case queryValue:
		return string(x), nil
	}
	return "", orchestrator.Errorf(orchestrator.EINVALID, "%s must be a string", k)
}

// asObject reads a JSON object of a POST body (parameters may hold
// secrets: bind refuses them in a query string).
func asObject(k string, v any) (map[string]any, error) {
	if x, ok := v.(map[string]any); ok {
		return x, nil
	}
	return nil, orchestrator.Errorf(orchestrator.EINVALID, "%s must be a JSON object of parameter names and values", k)
}

// asInt reads a whole number: a JSON number of a POST body or a query
// string's digits.
func asInt(k string, v any) (*int, error) {
	var text string
	switch x := v.(type) {
	case json.Number:
		text = x.String()
	case queryValue:
		text = string(x)
	}
	n, err := strconv.Atoi(text)
	if err != nil {
		return nil, orchestrator.Errorf(orchestrator.EINVALID, "%s must be a whole number", k)
	}
	return &n, nil
}

func asBool(k string, v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case queryValue:
		b, err := strconv.ParseBool(string(x))
		if err == nil && (x == "1" || x == "0" || x == "true" || x == "false") {
			return b, nil
		}
	}
	return false, orchestrator.Errorf(orchestrator.EINVALID, "%s must be a boolean (true/false; 1/0 in a query)", k)
}

func ok(c echo.Context, status int, zh, en string, data any) error {
	return c.JSON(status, success(c, zh, en, data))
}

// success is the seed's envelope of a success, its message in the
// client's language.
func success(c echo.Context, zh, en string, data any) envelope {
	return envelope{Code: "1", Message: pick(c, zh, en), Data: data}
}

// pick returns the message in the client's language.
func pick(c echo.Context, zh, en string) string {
	if english(c) {
		return en
	}
	return zh
}

func toUninstallData(res orchestrator.UninstallResult) uninstallData {
	data := uninstallData{AppName: res.Installation.Name, RemovedContainers: nonNil(res.Removed.Containers),
		RemovedNetworks: nonNil(res.Removed.Networks), RemovedVolumes: nonNil(res.Removed.Volumes),
		KeptVolumes: nonNil(res.Removed.KeptVolumes), FreedPorts: []int{}}
	for _, p := range res.Installation.Ports {
		data.FreedPorts = append(data.FreedPorts, p.Port)
	}
	return data
}

func (s *Server) installApp(c echo.Context) error {
	in, err := bind(c)
	if err != nil {
		return err
	}
	if in.Reference != "" {
		// A reference adds a bundle to the catalog, as a pull does.
		if err := requireRole(c, orchestrator.RoleAdmin, "installing by reference (it adds a bundle to the catalog)"); err != nil {
			return err
		}
	}
	inst, err := s.Lifecycle.Install(c.Request().Context(), orchestrator.InstallRequest{App: in.AppName, Name: in.Name, Force: in.Force,
		Reference: in.Reference, Parameters: in.Parameters, Node: in.Node})
	if err != nil {
		return err
	}
	info := toAppInfo(inst)
	info.Info = "installing: follow with /getAppInfo"
	return ok(c, http.StatusAccepted, fmt.Sprintf("%s开始安装", inst.Name), fmt.Sprintf("%s is being installed", inst.Name), info)
}

func (s *Server) getAppInfo(c echo.Context) error {
	in, err := bind(c)
	if err != nil {
		return err
	}
	// Answered from the last rendering while the engine's ListStamp has
	// not moved: encoding it was the largest part of its cost (make bench).
	return s.appInfo.serve(c, s.Apps, in.AppName, english(c), func() (any, error) {
		inst, err := s.Apps.Info(c.Request().Context(), in.AppName)
		if err != nil {
			return nil, err
		}
		return success(c, fmt.Sprintf("%s信息查询成功", inst.Name), fmt.Sprintf("%s found", inst.Name), toAppInfo(inst)), nil
	})
}

func (s *Server) uninstallApp(c echo.Context) error {
	in, err := bind(c)
	if err != nil {
		return err
	}
	res, err := s.Lifecycle.Uninstall(c.Request().Context(), orchestrator.UninstallRequest{Name: in.AppName, Purge: in.Purge})
	if err != nil {
		return err
	}
	data := toUninstallData(res)
	return ok(c, http.StatusOK, fmt.Sprintf("%s卸载成功", res.Installation.Name), fmt.Sprintf("%s uninstalled", res.Installation.Name), data)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func acceptedKeys(keys []string) string {
	if len(keys) == 0 {
		return "none"
	}
	return strings.Join(keys, ", ")
}

// getAllAppInfo answers from the last rendering while the engine's
// ListStamp has not moved: at 100 apps, encoding the list was most of the
// request's cost (make load).
func (s *Server) getAllAppInfo(c echo.Context) error {
	if _, err := bind(c); err != nil {
		return err
	}
	return s.allApps.serve(c, s.Apps, english(c), func() (any, error) {
		list, err := s.Apps.List(c.Request().Context())
		if err != nil {
			return nil, err
		}
		return success(c, "应用信息查询成功", "apps found", toAppInfos(list)), nil
	})
}

// uninstallOutcome is one app's result in /uninstallAllApp.
type uninstallOutcome struct {
	AppName string         `json:"appName"`
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Data    *uninstallData `json:"data,omitempty"`
}

func (s *Server) uninstallAllApp(c echo.Context) error {
	in, err := bind(c)
	if err != nil {
		return err
	}
	results, err := s.Lifecycle.UninstallAll(c.Request().Context(), in.Purge)
	if err != nil {
		return err
	}
	out := make([]uninstallOutcome, 0, len(results))
	failed := 0
	for _, r := range results {
		if r.Err != nil {
			failed++
			out = append(out, uninstallOutcome{AppName: r.Name, Code: "0",
				Message: localize(c, orchestrator.ErrorCode(r.Err), orchestrator.ErrorMessage(r.Err))})
			continue
		}
		d := toUninstallData(r.Result)
		out = append(out, uninstallOutcome{AppName: r.Name, Code: "1", Data: &d,
			Message: pick(c, fmt.Sprintf("%s卸载成功", r.Name), fmt.Sprintf("%s uninstalled", r.Name))})
	}
	if failed > 0 {
		msg := pick(c, fmt.Sprintf("%d个应用卸载失败", failed), fmt.Sprintf("%d apps could not be uninstalled", failed))
		return c.JSON(http.StatusInternalServerError, envelope{Code: "0", Message: msg, Data: out})
	}
	return ok(c, http.StatusOK, "全部应用卸载成功", "all apps uninstalled", out)
}

func toCatalogApp(a orchestrator.App) catalogApp {
	out := catalogApp{Name: a.Name, Title: a.Title, Version: a.Version, Description: a.Description,
		Ports: []catalogPort{}, Actions: nonNil(a.Actions),
		Requirements: map[string]string{"cpu": a.Requirements.CPU, "memory": a.Requirements.Memory, "disk": a.Requirements.Disk},
		Category:     a.Meta.Category, Homepage: a.Meta.Homepage, Documentation: a.Meta.Documentation,
		Login:  catalogLogin{Path: a.Meta.Login.Path, User: a.Meta.Login.User, Password: a.Meta.Login.Password},
		Images: nonNil(a.Images), Generated: nonNil(a.Generate), Source: a.Source}
	if a.Meta.Icon != "" {
		out.Icon = "/api/v1/catalog/" + a.Name + "/icon"
	}
	if o := a.Origin; o.Store != "" {
		out.Origin = &wire.CatalogOrigin{Store: o.Store, ID: o.ID, Version: o.Version}
	}
	for _, p := range a.Ports {
		out.Ports = append(out.Ports, catalogPort{Name: p.Name, Min: p.Min, Max: p.Max})
	}
	for lang, tx := range a.Texts {
		if out.Texts == nil {
			out.Texts = map[string]wire.CatalogTexts{}
		}
		ct := wire.CatalogTexts{Title: tx.Title, Description: tx.Description, Form: tx.Form}
		for name, p := range tx.Parameters {
			if ct.Parameters == nil {
				ct.Parameters = map[string]wire.CatalogParameterText{}
			}
			ct.Parameters[name] = wire.CatalogParameterText{Label: p.Label, Help: p.Help}
		}
		out.Texts[lang] = ct
	}
	for _, g := range a.Form {
		out.Form = append(out.Form, wire.FormGroup{ID: g.ID, Label: g.Label, Fields: g.Fields, Advanced: g.Advanced})
	}
	out.Parameters = make([]wire.CatalogParameter, 0, len(a.Parameters))
	for _, p := range a.Parameters {
		out.Parameters = append(out.Parameters, wire.CatalogParameter{Name: p.Name, Description: p.Description, Type: p.Type,
			Default: p.Default, Rules: p.Rules, ApplyTo: p.ApplyTo, Sensitive: p.Sensitive, Port: p.Port, Generated: p.Generated,
			Settable: p.Settable, Required: p.Required})
	}
	return out
}

func toCatalogApps(apps []orchestrator.App) []catalogApp {
	out := make([]catalogApp, 0, len(apps))
	for _, a := range apps {
		out = append(out, toCatalogApp(a))
	}
	return out
}

func (s *Server) appDetail(c echo.Context) error {
	in, err := bind(c)
	if err != nil {
		return err
	}
	a, err := s.Catalog.CatalogApp(c.Request().Context(), in.AppName)
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, fmt.Sprintf("%s详情查询成功", a.Name), fmt.Sprintf("%s found", a.Name), toCatalogApp(a))
}
