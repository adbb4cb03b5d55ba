package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/oklog/ulid"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/websoft9/stackhub/bundles"
	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/orchestrator/backup"
	"github.com/websoft9/stackhub/orchestrator/build"
	"github.com/websoft9/stackhub/orchestrator/catalog"
	"github.com/websoft9/stackhub/orchestrator/cnabrun"
	"github.com/websoft9/stackhub/orchestrator/dockerhost"
	"github.com/websoft9/stackhub/orchestrator/ocibundle"
	"github.com/websoft9/stackhub/orchestrator/pageout"
	"github.com/websoft9/stackhub/orchestrator/password"
	"github.com/websoft9/stackhub/orchestrator/secretbox"
	"github.com/websoft9/stackhub/orchestrator/sqlite"
	"github.com/websoft9/stackhub/web"
	"github.com/websoft9/stackhub/web/metrics"
	"github.com/websoft9/stackhub/web/wire"
)

// serveGCPercent is the server's GOGC unless the environment sets one. Its
// live heap is a few MB, so Go's default (100) collects after every few MB
// of garbage: under wrk on 2 cores, 200 served about a fifth more
// getAppInfo requests per second (25k to 30k) for a few MB of RSS (see
// bench/RESULTS.md for the figures at 100 apps).
const serveGCPercent = 200

func newServeCmd(getenv env) *cobra.Command {
	cfg := DefaultConfig()
	var configFile string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the StackHub API over the bundle engine",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if configFile == "" {
				configFile = getenv(serveConfigEnv)
			}
			if err := applyServeConfig(cmd.Flags(), configFile, getenv); err != nil {
				return usageErrorf("%v", err)
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			if getenv("GOGC") == "" {
				debug.SetGCPercent(serveGCPercent)
			}
			return serve(cmd.Context(), cfg, cmd.ErrOrStderr(), cmd.OutOrStdout())
		},
	}
	bindServeFlags(cmd.Flags(), &cfg, &configFile)
	return cmd
}

// bindServeFlags declares serve's flags over cfg (doctor reads the same
// settings to check the host they describe).
func bindServeFlags(f *pflag.FlagSet, cfg *Config, configFile *string) {
	f.StringVar(configFile, "config", "", "YAML file of settings, one key per flag of serve (data-dir: /var/lib/stackhub); flags, then STACKHUB_* variables (STACKHUB_DATA_DIR), win over it; env "+serveConfigEnv)
	f.StringVar(&cfg.Listen, "listen", cfg.Listen, "address to serve on")
	f.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "state directory (SQLite file, run logs); env STACKHUB_DATA_DIR")
	f.StringVar(&cfg.BundlesDir, "bundles", cfg.BundlesDir, "serve this catalog directory (one Porter bundle per subdirectory) instead of the built-in catalog")
	f.StringVar(&cfg.RelocationMapping, "relocation-mapping", "", "JSON file mapping bundle image references to local or mirrored ones (CNAB relocation mapping)")
	f.StringVar(&cfg.RuntimesDir, "runtimes-dir", cfg.RuntimesDir, "directory of bundle-runtime and websoft9-runtime")
	f.StringSliceVar(&cfg.CatalogRefs, "catalog-ref", nil, "a bundle in an OCI registry to add to the catalog at start (REGISTRY/REPO:TAG, repeatable)")
	f.StringArrayVar(&cfg.InsecureRegistry, "insecure-registry", nil, "a registry of bundle references (HOST or HOST:PORT, repeatable) that may be reached over plain HTTP (loopback ones always may)")
	f.StringVar(&cfg.NodeTransfers, "node-transfers", "", "host:port the volume helper tasks on other Swarm nodes reach StackHub at, to read and write apps' volumes there (default: the manager's advertise address, a port the system picks)")
	f.DurationVar(&cfg.DockerTimeout, "docker-timeout", cfg.DockerTimeout, "bound of each Docker call that is not a wait or a stream: a stalled dockerd fails the operation after it")
	f.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error")
	f.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, "text or json (one JSON object per line, log/slog's JSON handler)")
	f.BoolVar(&cfg.MetricsPublic, "metrics-public", false, "serve GET /metrics without credentials, for a Prometheus scraper on a trusted network (by default it needs a token)")
	f.StringVar(&cfg.TLSCert, "tls-cert", "", "serve TLS with this certificate (PEM); needs --tls-key")
	f.StringVar(&cfg.TLSKey, "tls-key", "", "the certificate's private key (PEM)")
	f.StringSliceVar(&cfg.TrustedProxies, "trusted-proxy", nil, "CIDR of a reverse proxy whose X-Forwarded-For gives the client address (repeatable); none by default")
	f.BoolVar(&cfg.RequireTOTP, "require-totp", false, "every user must set up a second factor (TOTP) before doing anything else")
	f.BoolVar(&cfg.DebugRuntime, "debug-runtime", false, "serve GET /api/v1/debug/runtime (goroutines, open files, RSS) for the load harness")
	_ = f.MarkHidden("debug-runtime")
	f.BoolVar(&cfg.Gateway, "gateway", false, "serve apps' domains with automatic HTTPS on --gateway-http and --gateway-https (on in the permanent install)")
	f.StringVar(&cfg.GatewayHTTP, "gateway-http", cfg.GatewayHTTP, "the gateway's plain HTTP address (ACME HTTP-01, redirects)")
	f.StringVar(&cfg.GatewayHTTPS, "gateway-https", cfg.GatewayHTTPS, "the gateway's HTTPS address")
	f.StringVar(&cfg.ACMECA, "acme-ca", "", "ACME directory URL of the CA (default Let's Encrypt; its staging, or a private CA)")
	f.StringVar(&cfg.ACMECARoots, "acme-ca-roots", "", "PEM file of the roots a private ACME CA's own HTTPS chains to")
	f.StringVar(&cfg.ACMEEmail, "acme-email", "", "the operator's e-mail address the CA writes to (expiry, problems)")
	f.BoolVar(&cfg.TLSInternal, "tls-internal", false, "sign the domains' certificates with an internal CA of the gateway (LANs without public DNS; trust its root from GET /api/v1/gateway)")
}

// procPath is path as /proc/self/fd names it: absolute, links resolved
// (the debug runtime counts the descriptors open on the database by it).
func procPath(path string) string {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return path
}

// newLogger returns the server's logger: level is debug, info, warn or
// error; format text or json.
func newLogger(w interface{ Write([]byte) (int, error) }, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// newID returns a ULID, sortable by time, as CNAB claims use.
func newID() string {
	return strings.ToLower(ulid.MustNew(ulid.Timestamp(time.Now()), rand.Reader).String())
}

func serve(ctx context.Context, cfg Config, logOut, out interface{ Write([]byte) (int, error) }) error {
	log, err := newLogger(logOut, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return err
	}
	runLogs := filepath.Join(cfg.DataDir, "runs")
	if err := os.MkdirAll(runLogs, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	unlock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return err
	}
	defer unlock()
	dbPath := filepath.Join(cfg.DataDir, "stackhub.db")
	db, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	keyFile := filepath.Join(cfg.DataDir, "secret.key")
	if _, err := os.Stat(keyFile); errors.Is(err, os.ErrNotExist) {
		// A new key would make every sealed secret unreadable: refuse
		// rather than start with data that can no longer be used.
		if sealed, err := db.HasSealed(ctx); err != nil {
			return err
		} else if sealed {
			return fmt.Errorf("%s is missing but the database holds secrets sealed with it: restore the key file from the same backup as stackhub.db", keyFile)
		}
	}
	if db.Sealer, err = secretbox.LoadOrCreate(keyFile); err != nil {
		return err
	}
	catalogDir := cfg.BundlesDir
	if catalogDir == "" {
		// The built-in catalog, written out for the builder to read.
		catalogDir = filepath.Join(cfg.DataDir, "catalog")
		if err := catalog.Extract(bundles.FS(), catalogDir); err != nil {
			return err
		}
	}
	cat, err := catalog.Load(catalogDir)
	if err != nil {
		return err
	}
	apps, err := cat.Apps(ctx)
	if err != nil {
		return err
	}
	var refused []error
	for _, app := range apps {
		refused = append(refused, policyLint(ctx, filepath.Join(catalogDir, app.Name), app.Name))
	}
	if err := errors.Join(refused...); err != nil {
		return fmt.Errorf("catalog %s: %w", catalogDir, err)
	}
	docker, err := dockerhost.NewClient()
	if err != nil {
		return err
	}
	defer docker.Close()
	// The metrics' collectors exist before anything they count.
	release := buildInfo()
	metered := metrics.New(release, log)
	host := dockerhost.New(docker)
	host.CallTimeout = cfg.DockerTimeout
	host.OnError = metered.DockerError
	// The engine's Swarm: nothing changes on a host until cluster init;
	// once the engine is a manager, installs are placed on its nodes.
	swarm := dockerhost.NewSwarm(docker)
	swarm.CallTimeout, swarm.OnError, swarm.Services = cfg.DockerTimeout, metered.DockerError, docker
	host.Swarm = swarm
	// Apps' volumes on other Swarm nodes: StackHub's helper tasks there
	// stream them to and from this endpoint (docs/swarm-apps.md).
	transfers := &dockerhost.Transfers{Addr: cfg.NodeTransfers, Log: log.With("component", "node-transfers")}
	defer transfers.Close()
	nodeVolumes := &dockerhost.NodeVolumes{Local: host, Swarm: swarm, API: docker, Transfers: transfers, Log: log.With("component", "node-volumes"),
		Binary: filepath.Join(cfg.RuntimesDir, "stackhub-volumes")}
	sources := &bundleSource{dir: filepath.Join(cfg.DataDir, "bundles"), reg: ocibundle.Registry{Insecure: cfg.InsecureRegistry},
		docker: docker, cat: cat, log: log.With("component", "bundles"),
		runtimesDir: cfg.RuntimesDir, afterBuild: debug.FreeOSMemory}
	sources.loadAll()
	runner := cnabrun.New(log, docker, host.Ping)
	runner.CallTimeout = cfg.DockerTimeout
	if sock, ok := strings.CutPrefix(docker.DaemonHost(), "unix://"); ok {
		// Bundles that ask for Docker reach the engine the server uses,
		// through a policed socket of their own.
		runner.Socket = sock
	}
	runDir, err := runSocketDir(cfg.DataDir, log)
	if err != nil {
		return err
	}
	runner.Police = policeRun(runDir, runner.Socket, db, log.With("component", "dockerpolicy"),
		imagePinner{docker: docker, reg: ocibundle.Registry{Insecure: cfg.InsecureRegistry}, log: log.With("component", "images")}.pin)
	sampler := dockerhost.NewSampler(cfg.DataDir, docker)
	sampler.Sample(ctx)
	var background sync.WaitGroup
	bgCtx, stopBackground := context.WithCancel(ctx)
	background.Go(func() { sampler.Run(bgCtx) })
	if len(cfg.CatalogRefs) > 0 {
		// A registry that is down delays nothing: these bundles join the
		// catalog when they can be pulled; a restart retries.
		background.Go(func() {
			for _, ref := range cfg.CatalogRefs {
				if _, err := sources.Resolve(bgCtx, ref, orchestrator.AddOptions{}); err != nil {
					log.Error("catalog bundle not added", "reference", ref, "err", err)
				}
			}
		})
	}
	watcher := dockerhost.NewWatcher(docker, log)
	watcher.CallTimeout = cfg.DockerTimeout
	watcher.OnError = metered.DockerError
	background.Go(func() { watcher.Run(bgCtx) })
	// Apps on other Swarm nodes: their nodes' states and their tasks, as
	// the manager sees them (nothing is asked but Info while no swarm).
	nodeWatcher := dockerhost.NewSwarmWatcher(swarm, log)
	background.Go(func() { nodeWatcher.Run(bgCtx) })
	defer func() { stopBackground(); background.Wait() }()
	accounts := &orchestrator.Accounts{Users: db, Hasher: password.Argon2{}, Now: time.Now, NewID: newID, RequireTOTP: cfg.RequireTOTP}
	// The one place a secret is logged, on purpose: it is how the first
	// admin proves access to the server. It works once, only while no user
	// exists, and for an hour: then a new one is logged.
	logSetupCode := func(ctx context.Context) error {
		code, err := accounts.RenewSetupCode(ctx)
		if code != "" {
			log.Warn("no user exists yet: create the first admin in the console, or POST /api/v1/auth/setup, with this one-time code",
				"setup_code", code, "valid_for", orchestrator.SetupCodeLifetime)
		}
		return err
	}
	if err := logSetupCode(ctx); err != nil {
		return err
	}
	background.Go(func() {
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-bgCtx.Done():
				return
			case <-t.C:
				if err := logSetupCode(bgCtx); err != nil && bgCtx.Err() == nil {
					log.Warn("setup code", "err", err)
				}
			}
		}
	})
	// Start-up, builds, CNAB runs, backups and the gateway's certificates
	// run code and fill a heap nothing else needs: once such a burst of
	// work is over, that memory goes back to the kernel.
	pager := pageout.NewPager(pageOutQuiet, func() { pageOutExecutable(log, "after work") })
	background.Go(func() { pager.Run(bgCtx) })
	builder := build.NewBuilder(cfg.RuntimesDir, docker)
	// A build holds the invocation image in memory (some 100 MB for the
	// demo's); the collector's next goal is then GOGC% above that peak and
	// garbage fills it long after: 400 MB of RSS on a server at rest, seen
	// by the bench's smoke. Return it at once (a build is rare).
	builder.AfterBuild = debug.FreeOSMemory
	// Backup repositories open on first use and stay open until shutdown.
	backups := &backup.Manager{Configs: db, StateDir: filepath.Join(cfg.DataDir, "backup"), Logger: log}
	defer func() { _ = backups.Close(context.WithoutCancel(ctx)) }()
	// The gateway, when it runs, loads its routes again on this call.
	var reloadGateway atomic.Pointer[func()]
	engine := orchestrator.New(orchestrator.Deps{
		Catalog:        cat,
		Builder:        builder,
		Runner:         runner,
		Host:           host,
		Swarm:          swarm,
		Installations:  db,
		Runs:           db,
		Credentials:    db,
		Relocation:     cfg.relocation,
		Bundles:        sources,
		Logger:         log,
		RunLogDir:      runLogs,
		Now:            time.Now,
		NewID:          newID,
		Stats:          sampler,
		Observer:       watcher,
		Nodes:          nodeWatcher,
		Logs:           host,
		ServiceLogs:    swarm,
		ContainerStats: host,
		Vault:          &catalog.Vault{Dir: filepath.Join(cfg.DataDir, "vault")},
		Backups:        backups,
		Volumes:        host,
		NodeVolumes:    nodeVolumes,
		Policies:       db,
		NeedsSetup:     accounts.NeedsSetup,
		Exposure:       orchestrator.Exposure{Public: !isLoopback(cfg.Listen), TLS: cfg.TLSCert != ""},
		Audit:          db,
		Grants:         db,
		JobObserver:    jobObservers{metered, jobEndFunc(func(orchestrator.JobEnd) { pager.Kick() })},
		Domains:        domainStore(cfg, db),
		RoutesChanged: func() {
			if f := reloadGateway.Load(); f != nil {
				(*f)()
			}
			pager.Kick() // the gateway's reload, its certificates
		},
	})
	// Resolve what a crash left before any change is accepted; when Docker
	// is down, keep trying in the background (changes answer 503 meanwhile).
	if err := engine.Recover(ctx); err != nil {
		log.Warn("start-up recovery could not run yet; changes are refused until it does", "err", err)
		background.Go(func() { engine.RecoverLoop(bgCtx, 5*time.Second) })
	}
	// The node volume helper services a crash left (no transfer runs yet).
	if st, err := swarm.SwarmStatus(ctx); err == nil && st.Swarm == orchestrator.SwarmManager {
		if n, err := nodeVolumes.RemoveHelpers(ctx); err != nil {
			log.Warn("node volume helpers left by a crash not removed", "err", err)
		} else if n > 0 {
			log.Info("removed node volume helpers left by a crash", "count", n)
		}
	}
	// Scheduled backups (backup policies), once a minute.
	background.Go(func() { engine.BackupScheduler(bgCtx) })

	trusted, err := cfg.trustedNets()
	if err != nil {
		return err
	}
	cluster := &orchestrator.Cluster{Swarm: swarm, Installations: db, Stats: sampler, Logger: log}
	srv := &web.Server{Engine: engine, Build: release, Auth: orchestrator.TokenAuth{Store: db, Now: time.Now, NewID: newID}, Accounts: accounts, People: accounts,
		Audit: engine, Cluster: cluster, Logger: log, TrustedProxies: trusted, DebugRuntime: cfg.DebugRuntime,
		Metrics: metered.Handler(engine), MetricsPublic: cfg.MetricsPublic, Requests: metered}
	handler := srv.Handler()
	if cfg.Gateway {
		gw, err := startGateway(ctx, cfg, engine, handler, log)
		if err != nil {
			return err
		}
		defer func() { _ = gw.Close(context.WithoutCancel(ctx)) }()
		reload := func() {
			if err := gw.Reload(bgCtx); err != nil {
				log.Warn("gateway: load the routes", "err", err)
			}
		}
		reloadGateway.Store(&reload)
		srv.Gateway = func() wire.Gateway { return gatewayInfo(cfg, gw) }
	}
	if cfg.DebugRuntime {
		srv.DatabaseFile = procPath(dbPath)
	}
	// Requests live under baseCtx, cancelled when shutdown starts, so that
	// event streams and log follows end instead of holding the grace period.
	baseCtx, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	httpSrv := &http.Server{
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      10 * time.Minute, // uninstall is synchronous
		IdleTimeout:       2 * time.Minute,
	}
	httpSrv.RegisterOnShutdown(cancelBase)
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	log.Info("StackHub serving", "version", srv.Build.Version, "commit", srv.Build.Commit, "addr", ln.Addr().String(), "data_dir", cfg.DataDir, "catalog", catalogDir)
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	fmt.Fprintf(out, "StackHub listening on %s://%s\n", scheme, ln.Addr())
	errc := make(chan error, 1)
	go func() {
		if cfg.TLSCert != "" {
			errc <- httpSrv.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
			return
		}
		errc <- httpSrv.Serve(ln)
	}()
	// Start-up is done: what it touched of the binary's text and data
	// goes back to the kernel (orchestrator/pageout), now and once more
	// when what it started in the background (the watchers' first calls,
	// the gateway's certificates) has likely settled.
	pageOutExecutable(log, "start")
	pager.Kick()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := httpSrv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("http shutdown", "err", err)
	}
	// Jobs get a grace period of their own, then are cancelled (an install
	// cleans up; anything left is resolved by Recover at the next start).
	jctx, cancelJobs := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancelJobs()
	engine.Shutdown(jctx)
	return nil
}

// pageOutQuiet is how long after the last job ended or route changed serve
// gives memory back again (pageOutExecutable): both come in bursts
// (concurrent installs, a domain per call), and each give-back costs a
// collection, a millisecond of madvise and the faults of the pages used
// again.
const pageOutQuiet = 2 * time.Second

// jobObservers tells each of its observers of every run that ends.
type jobObservers []orchestrator.JobObserver

// JobEnded implements orchestrator.JobObserver.
func (js jobObservers) JobEnded(e orchestrator.JobEnd) {
	for _, j := range js {
		j.JobEnded(e)
	}
}

// jobEndFunc is a function as an orchestrator.JobObserver.
type jobEndFunc func(orchestrator.JobEnd)

// JobEnded implements orchestrator.JobObserver.
func (f jobEndFunc) JobEnded(e orchestrator.JobEnd) { f(e) }

// pageOutExecutable gives the kernel back what a burst of work (start-up,
// jobs) left resident: the heap it no longer uses (debug.FreeOSMemory: one
// collection, then every free span returned, where the scavenger would
// keep GOGC's headroom) and the resident pages of the binary's read-only
// mappings (orchestrator/pageout). It logs the outcome at debug: a kernel
// that refuses MADV_PAGEOUT (before Linux 5.4) changes nothing else.
func pageOutExecutable(log *slog.Logger, when string) {
	debug.FreeOSMemory()
	res, err := pageout.Executable()
	if err != nil {
		log.Debug("executable's pages not paged out", "when", when, "err", err)
		return
	}
	log.Debug("executable's pages paged out", "when", when, "mappings", res.Mappings, "bytes", res.Bytes,
		"rss_file_kib", res.Before.File, "rss_file_kib_after", res.After.File, "rss_anon_kib", res.After.Anon)
}

// lockDataDir takes an exclusive lock so only one server uses a data dir.
func lockDataDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("data dir %s is in use by another stackhub serve", dir)
	}
	return func() { f.Close() }, nil
}

// isLoopback tells whether addr's host is a loopback address or localhost.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
