// Package web is StackHub's HTTP transport (Echo v4): the seed endpoints
// (/installApp, /uninstallApp, /getAppInfo, …) with their
// {"code","message","data"} envelope, /api/v1, bearer-token or session
// authentication on every route but /healthz, /readyz, login and setup
// (and /metrics when Server.MetricsPublic says so), and one error handler
// mapping domain error codes to HTTP statuses. /metrics is whatever
// http.Handler Server.Metrics is (web/metrics in serve); requests are
// reported to a RequestObserver, so web never imports Prometheus.
//
// It imports the orchestrator root (never an adapter) and Echo. Wire DTOs
// live in dto.go; domain types never go on the wire.
package web
