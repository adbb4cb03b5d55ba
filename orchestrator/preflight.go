package orchestrator

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ParseQuantity reads a size as bundles write it: a plain number of bytes,
// or one with a binary (Ki, Mi, Gi, Ti) or decimal (K, M, G, T) suffix;
// "" is 0.
func ParseQuantity(s string) (uint64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	units := []struct {
		suffix string
		mult   float64
	}{
		{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
		{"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}, {"B", 1},
	}
	mult := 1.0
	for _, u := range units {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("%q is not a size such as 512Mi or 2G", s)
	}
	return uint64(v * mult), nil
}

// ParseCPU reads a number of cores ("2", "0.5", "500m"); "" is 0.
func ParseCPU(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	div := 1.0
	if rest, ok := strings.CutSuffix(s, "m"); ok {
		s, div = rest, 1000
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("%q is not a number of cores such as 2 or 500m", s)
	}
	return v / div, nil
}

// gib formats bytes for a message.
func gib(b uint64) string { return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30)) }

// Preflight checks an app's declared requirements against what the host has
// free. Returns EPRECONDITION listing every shortfall with the numbers,
// EINVALID for requirements that do not parse, and nil when the host was
// not sampled yet (nothing to compare with).
func Preflight(app App, host HostSample, sampled bool) error {
	if !sampled {
		return nil
	}
	r := app.Requirements
	cpu, err := ParseCPU(r.CPU)
	if err != nil {
		return WrapError(EINVALID, err, "bundle %s: requirements.cpu: %v", app.Name, err)
	}
	mem, err := ParseQuantity(r.Memory)
	if err != nil {
		return WrapError(EINVALID, err, "bundle %s: requirements.memory: %v", app.Name, err)
	}
	disk, err := ParseQuantity(r.Disk)
	if err != nil {
		return WrapError(EINVALID, err, "bundle %s: requirements.disk: %v", app.Name, err)
	}
	var short []string
	if cpu > 0 && host.CPUs > 0 && cpu > float64(host.CPUs) {
		short = append(short, fmt.Sprintf("cpu: needs %g cores, the host has %d", cpu, host.CPUs))
	}
	if free := host.MemTotal - min(host.MemUsed, host.MemTotal); mem > 0 && host.MemTotal > 0 && mem > free {
		short = append(short, fmt.Sprintf("memory: needs %s, %s free of %s", gib(mem), gib(free), gib(host.MemTotal)))
	}
	if free := host.DiskTotal - min(host.DiskUsed, host.DiskTotal); disk > 0 && host.DiskTotal > 0 && disk > free {
		short = append(short, fmt.Sprintf("disk: needs %s, %s free of %s", gib(disk), gib(free), gib(host.DiskTotal)))
	}
	if len(short) > 0 {
		return Errorf(EPRECONDITION, "%s needs more than this host has free: %s (install with force to go ahead)", app.Name, strings.Join(short, "; "))
	}
	return nil
}
