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
)

func (s *Server) registerSeedRoutes(g *echo.Group) {
	for path, h := range map[string]echo.HandlerFunc{
		"/installApp":   s.installApp,
		"/uninstallApp": s.uninstallApp,
		"/getAppInfo":   s.getAppInfo,
	} {
		g.GET(path, h)
		g.POST(path, h)
	}
}

// seedInput is what the seed endpoints accept. Unknown keys are refused.
type seedInput struct {
	AppName string
	Name    string
	Purge   bool
}

var seedKeys = map[string][]string{
	"/installApp":   {"appName", "name"},
	"/uninstallApp": {"appName", "purge"},
	"/getAppInfo":   {"appName"},
}

// bind reads the input from the query string (GET) or a JSON object body
// (POST), refusing unknown keys and wrong types with EINVALID.
func bind(c echo.Context) (seedInput, error) {
	allowed := seedKeys[c.Path()]
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
			if dec.More() {
				return in, orchestrator.Errorf(orchestrator.EINVALID, "the body must hold one JSON object")
			}
		}
	}
	for k, vs := range c.QueryParams() {
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
			return in, orchestrator.Errorf(orchestrator.EINVALID, "unknown field %q (accepted: %s)", k, strings.Join(allowed, ", "))
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
		}
		if err != nil {
			return in, err
		}
	}
	if in.AppName == "" {
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
	msg := zh
	if english(c) {
		msg = en
	}
	return c.JSON(status, envelope{Code: "1", Message: msg, Data: data})
}

func (s *Server) installApp(c echo.Context) error {
	in, err := bind(c)
	if err != nil {
		return err
	}
	inst, err := s.Engine.Install(c.Request().Context(), orchestrator.InstallRequest{App: in.AppName, Name: in.Name})
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
	inst, err := s.Engine.Info(c.Request().Context(), in.AppName)
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, fmt.Sprintf("%s信息查询成功", inst.Name), fmt.Sprintf("%s found", inst.Name), toAppInfo(inst))
}

// uninstallData is what /uninstallApp returns.
type uninstallData struct {
	AppName           string   `json:"appName"`
	RemovedContainers []string `json:"removedContainers"`
	RemovedNetworks   []string `json:"removedNetworks"`
	RemovedVolumes    []string `json:"removedVolumes"`
	KeptVolumes       []string `json:"keptVolumes"`
	FreedPorts        []int    `json:"freedPorts"`
}

func (s *Server) uninstallApp(c echo.Context) error {
	in, err := bind(c)
	if err != nil {
		return err
	}
	res, err := s.Engine.Uninstall(c.Request().Context(), orchestrator.UninstallRequest{Name: in.AppName, Purge: in.Purge})
	if err != nil {
		return err
	}
	data := uninstallData{AppName: res.Installation.Name, RemovedContainers: nonNil(res.Removed.Containers),
		RemovedNetworks: nonNil(res.Removed.Networks), RemovedVolumes: nonNil(res.Removed.Volumes),
		KeptVolumes: nonNil(res.Removed.KeptVolumes), FreedPorts: []int{}}
	for _, p := range res.Installation.Ports {
		data.FreedPorts = append(data.FreedPorts, p.Port)
	}
	return ok(c, http.StatusOK, fmt.Sprintf("%s卸载成功", res.Installation.Name), fmt.Sprintf("%s uninstalled", res.Installation.Name), data)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
