package web

import (
	"cmp"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/web/wire"
)

// AppReader reads installed apps.
type AppReader interface {
	Info(ctx context.Context, name string) (orchestrator.Installation, error)
	List(ctx context.Context) ([]orchestrator.Installation, error)
	// ListStamp says whether List's and Catalog's answers changed (false:
	// cannot tell).
	ListStamp() (orchestrator.ListStamp, bool)
	Runs(ctx context.Context, name string, limit int) ([]orchestrator.Run, error)
	Logs(ctx context.Context, req orchestrator.LogsRequest, w io.Writer) error
	Credentials(ctx context.Context, name string) (orchestrator.Credentials, error)
	Settings(ctx context.Context, name string) (orchestrator.AppSettings, error)
	Stats(ctx context.Context, name string) ([]orchestrator.ContainerStats, error)
}

// AppLifecycle starts the runs that change apps.
type AppLifecycle interface {
	Install(ctx context.Context, req orchestrator.InstallRequest) (orchestrator.Installation, error)
	StartUninstall(ctx context.Context, req orchestrator.UninstallRequest) (orchestrator.Installation, error)
	Uninstall(ctx context.Context, req orchestrator.UninstallRequest) (orchestrator.UninstallResult, error)
	UninstallAll(ctx context.Context, purge bool) ([]orchestrator.UninstallResultOf, error)
	Upgrade(ctx context.Context, req orchestrator.UpgradeRequest) (orchestrator.Run, error)
	PlanUpgrade(ctx context.Context, req orchestrator.UpgradeRequest) (orchestrator.UpgradePlan, error)
	Action(ctx context.Context, req orchestrator.ActionRequest) (orchestrator.Run, error)
}

// JobService follows and cancels runs.
type JobService interface {
	Run(ctx context.Context, id string) (orchestrator.Run, error)
	WatchJob(ctx context.Context, id string, seq int, fn func(orchestrator.JobEvent) error) error
	CancelJob(ctx context.Context, id string) (orchestrator.Run, error)
}

// CatalogService reads and grows the catalog.
type CatalogService interface {
	Catalog(ctx context.Context) ([]orchestrator.App, error)
	CatalogApp(ctx context.Context, name string) (orchestrator.App, error)
	PullBundle(ctx context.Context, ref string, opts orchestrator.AddOptions) (orchestrator.App, error)
	ImportBundle(ctx context.Context, archive io.Reader, opts orchestrator.AddOptions) (orchestrator.App, error)
	AddBundleDir(ctx context.Context, files io.Reader, opts orchestrator.AddOptions) (orchestrator.App, error)
}

// HostService reports on the host and the server.
type HostService interface {
	Server(ctx context.Context) (orchestrator.ServerStatus, error)
	// Readiness answers readyz: the store, Docker, the catalog and
	// start-up recovery, each OK or why not.
	Readiness(ctx context.Context) orchestrator.Readiness
}

// RequestObserver is told of every answered request (metrics): the route
// template that matched (c.Path(), "" for none; never the raw path), the
// method, the status and the time taken. It must be quick and safe for
// concurrent use.
type RequestObserver interface {
	ObserveRequest(route, method string, status int, d time.Duration)
}

// Engine is every use case at once, as orchestrator.Engine provides
// them: a convenience for wiring one engine into each narrow field.
type Engine interface {
	AppReader
	AppLifecycle
	JobService
	CatalogService
	HostService
	GrantService
	BackupService
	PolicyService
	DomainService
}

// Authenticator checks and manages bearer tokens.
type Authenticator interface {
	// Authenticate returns EUNAUTHORIZED unless secret is a live token.
	Authenticate(ctx context.Context, secret string) (orchestrator.Token, error)
	Create(ctx context.Context, name string, scope orchestrator.TokenScope) (string, orchestrator.Token, error)
	List(ctx context.Context) ([]orchestrator.Token, error)
	Revoke(ctx context.Context, id string) error
}

// MaxBodyBytes bounds request bodies.
const MaxBodyBytes = "1M"

// Server is the HTTP API.
type Server struct {
	// Engine, when set, fills each of the narrow fields below left nil.
	Engine Engine
	// The use cases the handlers call, one narrow interface each.
	Apps      AppReader
	Lifecycle AppLifecycle
	Jobs      JobService
	Catalog   CatalogService
	Host      HostService
	Grants    GrantService
	Backups   BackupService
	Policies  PolicyService
	Domains   DomainService
	// Cluster manages the Docker Swarm the engine may lead; nil: the
	// server is never a swarm (GET /api/v1/cluster says inactive).
	Cluster ClusterService
	// Gateway describes the gateway (GET /api/v1/gateway); nil: none runs.
	Gateway func() wire.Gateway
	// Build is the server's release, shown in GET /api/v1/server.
	Build wire.BuildInfo

	Auth     Authenticator
	Accounts AccountService
	// People manages users, invites and second factors; nil answers 503.
	People PeopleService
	// Audit reads the bundle policy's refusals; nil answers 503.
	Audit  AuditReader
	Logger *slog.Logger
	// TrustedProxies are the networks of reverse proxies whose
	// X-Forwarded-For is believed; empty (the default) believes no header:
	// the client is always the socket peer.
	TrustedProxies []*net.IPNet
	// DebugRuntime adds GET /api/v1/debug/runtime (goroutines, open file
	// descriptors, RSS) for load harnesses; off in normal serving.
	DebugRuntime bool
	// DatabaseFile is the SQLite file's path: the debug runtime counts the
	// descriptors open on it apart.
	DatabaseFile string
	// Metrics, when set, is served at GET /metrics: to a viewer's token
	// or session like any read, or to anyone with MetricsPublic (a
	// scraper on a trusted network).
	Metrics       http.Handler
	MetricsPublic bool
	// Requests, when set, is told of every answered request.
	Requests RequestObserver

	// allApps and apps are the last answers of /getAllAppInfo (per
	// language) and /api/v1/apps (Handler makes them).
	allApps, apps *renderCache
	// catalogPages are the catalog's pages rendered for /appList and
	// GET /api/v1/catalog.
	catalogPages *catalogPages
	// appInfo keeps /getAppInfo's answers by app name.
	appInfo *keyedCache
	// streams bounds the open event and log streams.
	streams streamGate
}

// Handler returns the Echo instance serving every route.
func (s *Server) Handler() *echo.Echo {
	if s.Engine != nil {
		s.Apps = cmp.Or[AppReader](s.Apps, s.Engine)
		s.Lifecycle = cmp.Or[AppLifecycle](s.Lifecycle, s.Engine)
		s.Jobs = cmp.Or[JobService](s.Jobs, s.Engine)
		s.Catalog = cmp.Or[CatalogService](s.Catalog, s.Engine)
		s.Host = cmp.Or[HostService](s.Host, s.Engine)
		s.Grants = cmp.Or[GrantService](s.Grants, s.Engine)
		s.Backups = cmp.Or[BackupService](s.Backups, s.Engine)
		s.Policies = cmp.Or[PolicyService](s.Policies, s.Engine)
		s.Domains = cmp.Or[DomainService](s.Domains, s.Engine)
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	if s.allApps == nil {
		s.allApps, s.apps, s.appInfo = &renderCache{}, &renderCache{}, &keyedCache{}
		s.catalogPages = &catalogPages{}
	}
	// Identity comes from credentials only; the client IP is the socket
	// peer, never X-Forwarded-For or X-Real-IP.
	e.IPExtractor = echo.ExtractIPDirect()
	if len(s.TrustedProxies) > 0 {
		opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
		for _, n := range s.TrustedProxies {
			opts = append(opts, echo.TrustIPRange(n))
		}
		e.IPExtractor = echo.ExtractIPFromXFFHeader(opts...)
	}
	e.HTTPErrorHandler = s.handleError
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{DisableStackAll: true}))
	e.Use(middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{Limit: MaxBodyBytes,
		// An archive carries images, a bundle directory an icon: their
		// handlers have their own bounds.
		Skipper: func(c echo.Context) bool {
			return c.Path() == "/api/v1/catalog/import" || c.Path() == "/api/v1/catalog/bundles"
		}}))
	e.Use(middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogMethod: true, LogURIPath: true, LogStatus: true, LogLatency: true, LogRemoteIP: true, LogError: true,
		HandleError: true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			// Changes and failures at info; successful reads (the console
			// polls them) at debug: --log-level debug shows every request.
			level := slog.LevelDebug
			if mutating(c) || v.Status >= http.StatusBadRequest {
				level = slog.LevelInfo
			}
			s.log().Log(c.Request().Context(), level, "request", "method", v.Method, "path", v.URIPath, "status", v.Status,
				"latency", v.Latency, "peer", v.RemoteIP)
			if s.Requests != nil {
				s.Requests.ObserveRequest(c.Path(), v.Method, v.Status, v.Latency)
			}
			return nil
		},
	}))
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := checkContentType(c); err != nil {
				return err
			}
			return next(c)
		}
	})
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	if s.Metrics != nil {
		if s.MetricsPublic {
			e.GET("/metrics", echo.WrapHandler(s.Metrics))
		} else {
			e.GET("/metrics", echo.WrapHandler(s.Metrics), s.authenticate)
		}
	}
	seed := e.Group("", s.authenticate)
	s.registerSeedRoutes(seed)
	v1 := e.Group("/api/v1", s.authenticate)
	s.registerAuthRoutes(e.Group("/api/v1"), v1)
	s.registerAppRoutes(v1)
	s.registerJobRoutes(v1)
	s.registerCatalogRoutes(v1)
	s.registerGrantRoutes(v1)
	s.registerBackupRoutes(v1)
	s.registerPolicyRoutes(v1)
	s.registerDomainRoutes(v1)
	s.registerClusterRoutes(v1)
	v1.GET("/server", s.getServer)
	s.registerTokenRoutes(v1)
	s.registerPeopleRoutes(v1)
	s.registerAuditRoutes(v1)
	v1.GET("/openapi.json", s.openAPI)
	if s.DebugRuntime {
		v1.GET("/debug/runtime", s.debugRuntime)
		v1.GET("/debug/goroutines", s.debugGoroutines)
		v1.GET("/debug/cpu", s.debugCPUProfile)
		v1.GET("/debug/heap", s.debugHeapProfile)
	}
	s.registerConsoleRoutes(e)
	return e
}

func (s *Server) log() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

// readyCheck is a failed readiness check in readyz's answer.
type readyCheck struct {
	Check  string `json:"check"`
	Reason string `json:"reason"`
}

// readyz answers 200 {"status":"ready"} when the store, Docker, the
// catalog and start-up recovery all are, and 503 naming each check that
// failed and why otherwise.
func (s *Server) readyz(c echo.Context) error {
	r := s.Host.Readiness(c.Request().Context())
	if r.Ready() {
		return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
	}
	failed := []readyCheck{}
	for _, ch := range r {
		if !ch.OK {
			failed = append(failed, readyCheck{Check: ch.Name, Reason: ch.Reason})
		}
	}
	return c.JSON(http.StatusServiceUnavailable, map[string]any{"status": "not ready", "failed": failed})
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// mutating tells whether the route changes state: any method but GET and
// HEAD, and the seed's mutating endpoints even over GET.
func mutating(c echo.Context) bool {
	m := c.Request().Method
	return (m != http.MethodGet && m != http.MethodHead) || seedRoutesByPath[c.Path()].mutating
}
