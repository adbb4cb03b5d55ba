package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/web/wire"
)

// getSettings serves GET /api/v1/apps/{name}/settings: the app's current
// settings (sensitive ones only said to be set) with its catalog entry,
// for the app page's edit form.
func (s *Server) getSettings(c echo.Context) error {
	st, err := s.Apps.Settings(c.Request().Context(), c.Param("name"))
	if err != nil {
		return err
	}
	out := wire.AppSettings{Name: st.Name, App: st.App.Name, Version: st.Version,
		Settings: make([]wire.Setting, 0, len(st.Values)), Catalog: toCatalogApp(st.App)}
	for _, v := range st.Values {
		w := wire.Setting{Name: v.Name, Sensitive: v.Sensitive, Set: v.Set, Editable: v.Editable}
		if !v.Sensitive {
			w.Value = v.Value
		}
		out.Settings = append(out.Settings, w)
	}
	return c.JSON(http.StatusOK, out)
}

// planUpgrade serves POST /api/v1/apps/{name}/upgrade/plan: what the same
// body would do to POST .../upgrade, refused the same way, without doing it.
func (s *Server) planUpgrade(c echo.Context) error {
	var body upgradeBody
	if err := decodeStrict(c, &body); err != nil {
		return err
	}
	p, err := s.Lifecycle.PlanUpgrade(c.Request().Context(), orchestrator.UpgradeRequest{Name: c.Param("name"), Parameters: body.Parameters})
	if err != nil {
		return err
	}
	out := wire.UpgradePlan{Name: p.Name, FromVersion: p.FromVersion, ToVersion: p.ToVersion,
		Changes: make([]wire.SettingChange, 0, len(p.Changes))}
	for _, ch := range p.Changes {
		w := wire.SettingChange{Name: ch.Name, Sensitive: ch.Sensitive, FromDefault: ch.FromDefault}
		if !ch.Sensitive {
			w.From, w.To = ch.From, ch.To
		}
		out.Changes = append(out.Changes, w)
	}
	return c.JSON(http.StatusOK, out)
}

// getStats serves GET /api/v1/apps/{name}/stats: each running container's
// CPU, memory, network and block I/O, sampled over about a second; for an
// app on another Swarm node, each container with "unavailable" (why) and
// its node's figures instead.
func (s *Server) getStats(c echo.Context) error {
	stats, err := s.Apps.Stats(c.Request().Context(), c.Param("name"))
	if err != nil {
		return err
	}
	out := make([]wire.ContainerStats, 0, len(stats))
	for _, st := range stats {
		w := wire.ContainerStats{Name: st.Name, CPUPercent: st.CPUPercent, MemoryBytes: st.MemoryBytes,
			MemoryLimit: st.MemoryLimit, NetRxBytes: st.NetRxBytes, NetTxBytes: st.NetTxBytes,
			BlockReadBytes: st.BlockReadBytes, BlockWriteBytes: st.BlockWriteBytes, PIDs: st.PIDs, Unavailable: st.Unavailable}
		if n := st.Node; n != nil {
			w.Node = &wire.StatsNode{ID: n.ID, Hostname: n.Hostname, Addr: n.Addr, State: n.State, CPUs: n.CPUs, MemoryBytes: n.MemoryBytes}
		}
		out = append(out, w)
	}
	return c.JSON(http.StatusOK, out)
}
