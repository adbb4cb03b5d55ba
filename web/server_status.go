package web

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/websoft9/stackhub/orchestrator"
)

func percent(v float64) string { return fmt.Sprintf("%.1f%%", v) }

func toServerData(st orchestrator.ServerStatus) serverData {
	smp := st.Sample
	d := serverData{CPU: percent(smp.CPUPercent), Memory: percent(smp.MemPercent), HDD: percent(smp.DiskPercent),
		Load: [3]float64{smp.Load1, smp.Load5, smp.Load15}, Uptime: int64(smp.Uptime.Seconds()),
		Docker: st.DockerVersion, Apps: map[string]int{}, Risk: len(st.Risks), Info: []string{}, Risks: []riskDTO{},
		MemTotal: smp.MemTotal, MemUsed: smp.MemUsed, HDDTotal: smp.DiskTotal, HDDUsed: smp.DiskUsed}
	if st.Sampled {
		t := smp.Time
		d.Sampled = &t
	}
	for state, n := range st.Apps {
		d.Apps[string(state)] = n
	}
	for _, r := range st.Risks {
		d.Info = append(d.Info, r.Message)
		d.Risks = append(d.Risks, riskDTO(r))
	}
	return d
}

func (s *Server) searchServer(c echo.Context) error {
	if _, err := bind(c); err != nil {
		return err
	}
	st, err := s.Host.Server(c.Request().Context())
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, "服务器状态信息查询成功", "server status", toServerData(st))
}

func (s *Server) getServer(c echo.Context) error {
	st, err := s.Host.Server(c.Request().Context())
	if err != nil {
		return err
	}
	hist := make([]sampleDTO, 0, len(st.History))
	for _, h := range st.History {
		hist = append(hist, sampleDTO{Time: h.Time, CPU: h.CPUPercent, Memory: h.MemPercent, HDD: h.DiskPercent, Load1: h.Load1})
	}
	return c.JSON(http.StatusOK, map[string]any{"status": toServerData(st), "history": hist, "stackhub": s.Build})
}
