package orchestrator

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// HostSample is one reading of the host's load.
type HostSample struct {
	Time        time.Time
	CPUs        int
	CPUPercent  float64
	MemPercent  float64
	MemTotal    uint64
	MemUsed     uint64
	DiskPercent float64 // of the data directory's filesystem
	DiskTotal   uint64
	DiskUsed    uint64
	Load1       float64
	Load5       float64
	Load15      float64
	Uptime      time.Duration
}

// HostStats samples the host in the background, so that no request waits
// for a CPU-sampling interval.
type HostStats interface {
	// Latest returns the newest sample; false before the first one.
	Latest() (HostSample, bool)
	// History returns the samples of the last hour, oldest first.
	History() []HostSample
	// DockerVersion returns the engine's version. Returns EUNAVAILABLE when
	// Docker does not answer.
	DockerVersion(ctx context.Context) (string, error)
}

// Risk is one current risk on the server, with what to do about it.
type Risk struct {
	Code    string
	Message string
	Advice  string
}

// ServerStatus is what /searchServer reports.
type ServerStatus struct {
	Sample        HostSample
	Sampled       bool
	History       []HostSample
	DockerVersion string
	// DockerError says why the version is missing.
	DockerError string
	// Apps counts installations by state.
	Apps map[State]int
	// SetupPending is true while no console user exists: whoever reads the
	// setup code in the server log can create the admin.
	SetupPending bool
	Risks        []Risk
}

// Thresholds above which disk and memory use are risks.
const (
	DiskRiskPercent   = 90
	MemoryRiskPercent = 90
)

// Exposure describes how the API is reached, for the risk list.
type Exposure struct {
	// Public is true when the API listens beyond loopback.
	Public bool
	// TLS is true when it serves TLS.
	TLS bool
}

// Server reports the host, Docker and apps, with the current risks.
func (e *Engine) Server(ctx context.Context) (ServerStatus, error) {
	var st ServerStatus
	if e.d.Stats != nil {
		st.Sample, st.Sampled = e.d.Stats.Latest()
		st.History = e.d.Stats.History()
		v, err := e.d.Stats.DockerVersion(ctx)
		if err != nil {
			st.DockerError = ErrorMessage(err)
		}
		st.DockerVersion = v
	}
	list, err := e.List(ctx)
	if err != nil {
		return st, err
	}
	st.Apps = map[State]int{}
	var failed []string
	for _, inst := range list {
		st.Apps[inst.State]++
		if inst.State == StateFailed {
			failed = append(failed, inst.Name)
		}
	}
	if e.d.NeedsSetup != nil {
		pending, err := e.d.NeedsSetup(ctx)
		if err != nil {
			return st, err
		}
		st.SetupPending = pending
	}
	st.Risks = Risks(st, failed, e.d.Exposure)
	return st, nil
}

// Risks lists the current risks of a server: disk or memory above the
// thresholds, failed apps, Docker not answering, the API reachable beyond
// loopback without TLS. It is pure, for tests.
func Risks(st ServerStatus, failed []string, exp Exposure) []Risk {
	var out []Risk
	if st.Sampled && st.Sample.DiskPercent > DiskRiskPercent {
		out = append(out, Risk{Code: "disk_full", Message: fmt.Sprintf("the data directory's disk is %.1f%% full", st.Sample.DiskPercent),
			Advice: "free space or grow the disk: installs and the state database need room"})
	}
	if st.Sampled && st.Sample.MemPercent > MemoryRiskPercent {
		out = append(out, Risk{Code: "memory_low", Message: fmt.Sprintf("memory is %.1f%% used", st.Sample.MemPercent),
			Advice: "stop or uninstall apps you do not use, or add memory"})
	}
	if st.DockerError != "" {
		out = append(out, Risk{Code: "docker_down", Message: "Docker is not answering", Advice: "start the Docker engine (systemctl start docker); stackhub doctor says why it does not answer"})
	}
	if len(failed) > 0 {
		sort.Strings(failed)
		out = append(out, Risk{Code: "apps_failed", Message: fmt.Sprintf("%d app(s) failed: %v", len(failed), failed),
			Advice: "read the reason with getAppInfo, then uninstall and install again"})
	}
	if st.SetupPending {
		out = append(out, Risk{Code: "setup_pending", Message: "no admin account exists yet",
			Advice: "create the first admin now (the setup code is in the server log) or with stackhub user add"})
	}
	if exp.Public && !exp.TLS {
		out = append(out, Risk{Code: "plain_http", Message: "the API listens beyond loopback without TLS",
			Advice: "serve with --tls-cert and --tls-key, or listen on 127.0.0.1 behind a TLS proxy"})
	}
	return out
}
