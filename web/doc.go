// Package web is StackHub's HTTP transport (Echo v4): the seed endpoints
// (/installApp, /uninstallApp, /getAppInfo, /healthz) with their
// {"code","message","data"} envelope, bearer-token authentication on every
// route but /healthz, and one error handler mapping domain error codes to
// HTTP statuses.
//
// It imports the orchestrator root (never an adapter) and Echo. Wire DTOs
// live in dto.go; domain types never go on the wire.
package web
