package web

import (
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/web/wire"
)

// envelope is the seed API's answer: code "1" success, "0" failure.
type envelope struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data"`
}

// seedStatus maps a state to the seed's status: "0" not started or
// installing, "1" running, "2" failed.
func seedStatus(s orchestrator.State) string {
	switch s {
	case orchestrator.StateRunning:
		return "1"
	case orchestrator.StateFailed:
		return "2"
	}
	return "0"
}

func toAppInfo(inst orchestrator.Installation) appInfo {
	out := appInfo{AppName: inst.Name, App: inst.App, Version: inst.Version, ContainerName: inst.MainContainer(),
		Status: seedStatus(inst.State), State: string(inst.State), Ports: map[string]int{},
		Containers: inst.Containers, Outputs: inst.Outputs, RunID: inst.LastRunID, Active: string(inst.Active)}
	if out.Containers == nil {
		out.Containers = []string{}
	}
	for _, p := range inst.Ports {
		out.Ports[p.Param] = p.Port
		switch p.Param {
		case "port":
			out.Port = &p.Port
		case "db_port":
			out.DBPort = &p.Port
		}
	}
	// The domain decides how the app looks (stopped by hand or a stop
	// action shows as stopped, observed rather than assumed).
	if inst.ObservedKnown {
		for _, c := range inst.Observed {
			out.Observed = append(out.Observed, wire.ContainerState{Name: c.Name, State: c.State, Health: c.Health, Ports: c.Ports})
		}
	}
	if inst.Node.OnSwarm() {
		out.Node = &wire.AppNode{ID: inst.Node.NodeID, Hostname: inst.Node.Hostname, Addr: inst.Node.Addr,
			Address: inst.Node.Address(mainPort(inst)), State: inst.NodeState}
	}
	cond := inst.Condition()
	out.Info = cond.Detail
	if cond.State == orchestrator.ConditionStopped || cond.State == orchestrator.ConditionUnreachable {
		out.Status, out.State = "0", cond.State
	}
	return out
}

// english tells whether the client asked for English.
func english(c echo.Context) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(c.Request().Header.Get("Accept-Language"))), "en")
}

// zhPrefix is the seed's Chinese wording for each failure class.
var zhPrefix = map[string]string{
	orchestrator.EINVALID:      "参数错误",
	orchestrator.EUNAUTHORIZED: "未授权",
	orchestrator.EFORBIDDEN:    "权限不足",
	orchestrator.EPRECONDITION: "资源不足",
	orchestrator.ETOOMANY:      "请求过多",
	orchestrator.EUNSUPPORTED:  "不支持的内容类型",
	orchestrator.EPARAMETERS:   "参数值无效",
	orchestrator.ENOTFOUND:     "不存在",
	orchestrator.ECONFLICT:     "已经存在",
	orchestrator.EUNAVAILABLE:  "服务不可用",
	orchestrator.EINTERNAL:     "内部错误",
}

// localize returns msg in English, or prefixed with the seed's Chinese
// wording for its class.
func localize(c echo.Context, code, msg string) string {
	if english(c) {
		return msg
	}
	if p, ok := zhPrefix[code]; ok {
		return p + ": " + msg
	}
	return msg
}

func toAppInfos(list []orchestrator.Installation) []appInfo {
	out := make([]appInfo, 0, len(list))
	for _, inst := range list {
		out = append(out, toAppInfo(inst))
	}
	return out
}

// mainPort is the port an app is reached at: its "port" parameter, or its
// only port.
func mainPort(inst orchestrator.Installation) int {
	if p := inst.Port("port"); p != 0 {
		return p
	}
	if len(inst.Ports) == 1 {
		return inst.Ports[0].Port
	}
	return 0
}
