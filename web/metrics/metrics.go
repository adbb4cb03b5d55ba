// Package metrics is StackHub's Prometheus metrics: HTTP request latency by
// route, jobs by action and outcome with their durations, apps by status
// and the port pool's use (read from the engine at scrape time), Docker
// errors by operation, build information, and the Go runtime's and the
// process's own figures. Everything is registered in a registry of its own,
// never Prometheus's global default.
//
// It imports the orchestrator root and Prometheus's Go client. Nothing
// else imports Prometheus: the engine reports through
// orchestrator.JobObserver, the HTTP server through web.RequestObserver and
// the Docker adapter through dockerhost.ErrorFunc, all of which a
// *Metrics implements and cmd/stackhub wires.
package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/web/wire"
)

// Metric names, as served.
const (
	RequestDuration = "stackhub_http_request_duration_seconds"
	JobsTotal       = "stackhub_jobs_total"
	JobDuration     = "stackhub_job_duration_seconds"
	Apps            = "stackhub_apps"
	PortsReserved   = "stackhub_ports_reserved"
	PortPoolSize    = "stackhub_port_pool_size"
	DockerErrors    = "stackhub_docker_errors_total"
	BuildInfoName   = "stackhub_build_info"
)

// BuildInfo is what the binary says of itself (stackhub version's);
// empty fields read "dev" for Version and "unknown" for the rest.
type BuildInfo = wire.BuildInfo

// Source is what the scrape reads from the engine, cheaply: the installed
// apps (the engine's read model) and the port ledger's use.
type Source interface {
	List(ctx context.Context) ([]orchestrator.Installation, error)
	PortPool(ctx context.Context) (orchestrator.PortPool, error)
}

// appStatuses are the statuses stackhub_apps always reports, 0 when no
// app is in them: the recorded states but uninstalled, "stopped" (an
// app recorded running whose containers are not all running) and
// "unreachable" (one on a Swarm node that is lost).
var appStatuses = []string{
	string(orchestrator.StateInstalling), string(orchestrator.StateRunning), orchestrator.ConditionStopped,
	orchestrator.ConditionUnreachable, string(orchestrator.StateFailed), string(orchestrator.StateUninstalling),
}

// Metrics holds the collectors. Its methods are safe for concurrent use.
type Metrics struct {
	reg          *prometheus.Registry
	log          *slog.Logger
	requests     *prometheus.HistogramVec
	jobs         *prometheus.CounterVec
	jobDurations *prometheus.HistogramVec
	dockerErrors *prometheus.CounterVec

	appsDesc, reservedDesc, poolDesc *prometheus.Desc
}

// New returns the metrics with every collector registered, build
// information set and no sample yet.
func New(build BuildInfo, log *slog.Logger) *Metrics {
	if log == nil {
		log = slog.Default()
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		log: log.With("component", "metrics"),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: RequestDuration,
			Help: "Time to answer HTTP requests, by route template (never the raw path), method and status code.",
			// Reads answer in well under a millisecond; installs and
			// uninstalls in seconds; streams last until they end.
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "method", "code"}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: JobsTotal,
			Help: "Runs (jobs) ended, by action and outcome (succeeded, failed, canceled); runs resolved by start-up recovery included.",
		}, []string{"action", "outcome"}),
		jobDurations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    JobDuration,
			Help:    "Time from a run's acceptance to its result, by action; runs resolved by start-up recovery (which span a restart) are left out.",
			Buckets: []float64{.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800},
		}, []string{"action"}),
		dockerErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: DockerErrors,
			Help: "Docker calls of the host adapter that failed, by operation and class (unavailable, not_found, other).",
		}, []string{"operation", "class"}),
		appsDesc:     prometheus.NewDesc(Apps, "Installed apps by status (installing, running, stopped, failed, uninstalling), read at scrape time.", []string{"status"}, nil),
		reservedDesc: prometheus.NewDesc(PortsReserved, "Host ports the ledger holds for installations, read at scrape time.", nil, nil),
		poolDesc:     prometheus.NewDesc(PortPoolSize, "Distinct host ports the catalog's port parameters may be given (the union of their ranges), read at scrape time.", nil, nil),
	}
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: BuildInfoName, Help: "Always 1: the build's version, commit, date and Go version as labels."},
		[]string{"version", "commit", "date", "goversion"})
	info.WithLabelValues(or(build.Version, "dev"), or(build.Commit, "unknown"), or(build.Date, "unknown"), runtime.Version()).Set(1)
	m.reg.MustRegister(m.requests, m.jobs, m.jobDurations, m.dockerErrors, info,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Registry is the registry every collector is in.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// knownMethods are the methods labelled as such; any other is "other", so
// that a client cannot grow the label's values.
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
}

// ObserveRequest records one answered request (web.RequestObserver).
// route is the route template that matched ("/api/v1/apps/:name"), or ""
// for none, recorded as "unmatched".
func (m *Metrics) ObserveRequest(route, method string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	if !knownMethods[method] {
		method = "other"
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Observe(d.Seconds())
}

// JobEnded records a run's end (orchestrator.JobObserver).
func (m *Metrics) JobEnded(j orchestrator.JobEnd) {
	m.jobs.WithLabelValues(string(j.Action), string(j.Outcome)).Inc()
	if !j.Recovered {
		m.jobDurations.WithLabelValues(string(j.Action)).Observe(j.Duration.Seconds())
	}
}

// DockerError counts a failed Docker call (dockerhost.ErrorFunc). op is a
// fixed phrase such as "list containers", labelled "list_containers".
func (m *Metrics) DockerError(op, class string) {
	m.dockerErrors.WithLabelValues(strings.ReplaceAll(op, " ", "_"), class).Inc()
}

// Handler serves every metric in Prometheus's text format. Each scrape
// reads src under the request's context (apps by status, the port pool);
// when a read fails, the rest is still served and the failure logged.
func (m *Metrics) Handler(src Source) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scrape := prometheus.NewRegistry()
		scrape.MustRegister(m.readEngine(r.Context(), src))
		promhttp.HandlerFor(prometheus.Gatherers{m.reg, scrape}, promhttp.HandlerOpts{
			ErrorLog:      errorLog{m.log},
			ErrorHandling: promhttp.ContinueOnError,
		}).ServeHTTP(w, r)
	})
}

// readEngine reads src now and returns the answers as a collector.
func (m *Metrics) readEngine(ctx context.Context, src Source) engineState {
	st := engineState{m: m, apps: map[string]int{}}
	for _, s := range appStatuses {
		st.apps[s] = 0
	}
	list, err := src.List(ctx)
	if err != nil {
		st.appsErr = fmt.Errorf("apps by status: %w", err)
	}
	for _, inst := range list {
		st.apps[inst.Condition().State]++
	}
	st.pool, st.poolErr = src.PortPool(ctx)
	return st
}

// engineState is what one scrape read from the engine.
type engineState struct {
	m       *Metrics
	apps    map[string]int
	appsErr error
	pool    orchestrator.PortPool
	poolErr error
}

func (s engineState) Describe(ch chan<- *prometheus.Desc) {
	ch <- s.m.appsDesc
	ch <- s.m.reservedDesc
	ch <- s.m.poolDesc
}

func (s engineState) Collect(ch chan<- prometheus.Metric) {
	if s.appsErr != nil {
		ch <- prometheus.NewInvalidMetric(s.m.appsDesc, s.appsErr)
	} else {
		for status, n := range s.apps {
			ch <- prometheus.MustNewConstMetric(s.m.appsDesc, prometheus.GaugeValue, float64(n), status)
		}
	}
	if s.poolErr != nil {
		ch <- prometheus.NewInvalidMetric(s.m.reservedDesc, s.poolErr)
		return
	}
	ch <- prometheus.MustNewConstMetric(s.m.reservedDesc, prometheus.GaugeValue, float64(s.pool.Reserved))
	ch <- prometheus.MustNewConstMetric(s.m.poolDesc, prometheus.GaugeValue, float64(s.pool.Size))
}

// errorLog logs promhttp's gathering errors.
type errorLog struct{ log *slog.Logger }

func (l errorLog) Println(v ...any) { l.log.Warn("metrics scrape", "err", fmt.Sprint(v...)) }
