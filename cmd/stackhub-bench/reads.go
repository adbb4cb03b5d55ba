package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Read is one load run against one endpoint.
type Read struct {
	Endpoint  string `json:"endpoint"`
	ReqPerSec Num    `json:"reqPerSec"`
	P50Ms     Num    `json:"p50Ms"`
	P99Ms     Num    `json:"p99Ms"`
	Requests  int    `json:"requests"`
	// Non2xx counts answers other than 2xx/3xx; Errors socket errors.
	Non2xx int `json:"non2xx"`
	Errors int `json:"errors"`
}

// Reads are the read runs, round by round, and how they were made.
type Reads struct {
	// Tool is "wrk" or "go" (the bench's own client, when wrk is missing).
	Tool string `json:"tool"`
	// DockerVia says how Docker's unix socket was reached.
	DockerVia string `json:"dockerVia"`
	// Load is the load average when the first round began, after waiting
	// (at most QuietWait) for the host to settle; Waited how long that was.
	Load   string   `json:"load"`
	Waited Num      `json:"waitedSeconds"`
	Rounds [][]Read `json:"rounds"`
}

// lowConns is the connection count of the extra getAppInfo run: p99 at
// light concurrency, beside wrk's 50 where 2 cores queue every request.
const lowConns = 10

// dockerEndpoint labels Docker's own /containers/json.
const dockerEndpoint = "docker /containers/json"

// bareEndpoint labels the bare net/http handler the reads compare
// getAppInfo with: the same bytes, served by nothing but net/http.
const bareEndpoint = "bare net/http handler (getAppInfo's answer)"

// endpoint is one read run: its label in the report, what it gets (a
// StackHub path, Docker's list through the proxy, or the bare handler) and
// wrk's connections.
type endpoint struct {
	label  string
	path   string
	docker bool
	bare   bool
	conns  int
}

// readEndpoints are the read runs, in the order each round runs them.
func (b *bench) readEndpoints() []endpoint {
	one := b.o.Prefix + "-app-1"
	if !slices.Contains(b.installed, one) {
		one = b.installed[0] // app 1 failed to install
	}
	var out []endpoint
	for _, p := range []string{"/getAppInfo?appName=" + one, "/getAllAppInfo", "/searchServer", "/api/v1/apps"} {
		out = append(out, endpoint{label: p, path: p, conns: b.o.WrkConns})
	}
	out = append(out, endpoint{label: bareEndpoint, path: "/getAppInfo?appName=" + one, bare: true, conns: b.o.WrkConns})
	return append(out, endpoint{label: dockerEndpoint, docker: true, conns: b.o.WrkConns},
		endpoint{label: fmt.Sprintf("/getAppInfo?appName=%s (%d connections)", one, lowConns), path: "/getAppInfo?appName=" + one, conns: lowConns})
}

// waitQuiet waits, at most QuietWait, until the 1-minute load average is
// below the number of cores: the installs' tail (jobs still running,
// containers starting) is not what the reads measure.
func (b *bench) waitQuiet(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	for time.Since(start) < b.o.QuietWait {
		if l, err := load1(); err == nil && l < float64(runtime.NumCPU()) {
			break
		}
		select {
		case <-ctx.Done():
			return time.Since(start), ctx.Err()
		case <-time.After(5 * time.Second):
		}
	}
	return time.Since(start), nil
}

// benchReads runs the reads on the server that made the installs, then
// reads its RSS.
func (b *bench) benchReads(ctx context.Context, res *Results) error {
	var err error
	if res.Reads, err = b.reads(ctx); err != nil {
		return err
	}
	res.Memory.AfterReadsRSSKiB, err = rssKiB(b.srv.pid())
	return err
}

// reads runs each endpoint under load, ReadRounds rounds in turn, with N
// apps installed. Docker's socket is reached through a loopback TCP proxy
// in this process, so wrk measures it the same way.
func (b *bench) reads(ctx context.Context) (Reads, error) {
	var res Reads
	if len(b.installed) == 0 {
		return res, errors.New("no app is installed")
	}
	proxy, err := newUnixProxy(b.socket)
	if err != nil {
		return res, err
	}
	defer proxy.Close()
	res.Tool = "wrk"
	if b.wrk == "" {
		res.Tool = "go"
	}
	res.DockerVia = "a loopback TCP proxy to " + b.socket + " in the bench process (io.Copy both ways)"
	// The bare handler answers getAppInfo's bytes with net/http alone, in
	// this process: what a read costs with no routing, auth or engine.
	var bare []byte
	bareLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	bareSrv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(bare)
	})}
	go func() { _ = bareSrv.Serve(bareLn) }()
	defer bareSrv.Close()
	url := func(ep endpoint) string {
		switch {
		case ep.docker:
			return "http://" + proxy.Addr() + "/containers/json"
		case ep.bare:
			return "http://" + bareLn.Addr().String() + ep.path
		}
		return b.srv.url + ep.path
	}
	for _, ep := range b.readEndpoints() {
		if ep.bare {
			continue
		}
		status, body, err := b.get(ctx, url(ep))
		if err != nil {
			return res, err
		}
		if status != http.StatusOK {
			return res, fmt.Errorf("%s: %d %.200s", ep.label, status, body)
		}
		if strings.HasPrefix(ep.path, "/getAppInfo") && bare == nil {
			bare = body
		}
	}
	waited, err := b.waitQuiet(ctx)
	if err != nil {
		return res, err
	}
	res.Waited, res.Load = Num(waited.Seconds()), loadavg()
	b.logf("reads start after %s, load %s", waited.Round(time.Second), res.Load)
	for r := 1; r <= b.o.ReadRounds; r++ {
		var round []Read
		for _, ep := range b.readEndpoints() {
			if b.o.WrkWarmup > 0 {
				if _, err := b.load(ctx, url(ep), ep.conns, b.o.WrkWarmup); err != nil {
					return res, fmt.Errorf("%s warm-up: %w", ep.label, err)
				}
			}
			rd, err := b.load(ctx, url(ep), ep.conns, b.o.WrkDuration)
			if err != nil {
				return res, fmt.Errorf("%s: %w", ep.label, err)
			}
			rd.Endpoint = ep.label
			b.logf("reads round %d/%d %s: %.0f req/s, p50 %.2f ms, p99 %.2f ms, non-2xx %d, errors %d",
				r, b.o.ReadRounds, ep.label, rd.ReqPerSec, rd.P50Ms, rd.P99Ms, rd.Non2xx, rd.Errors)
			round = append(round, rd)
		}
		res.Rounds = append(res.Rounds, round)
	}
	return res, nil
}

// get fetches url once with the token.
func (b *bench) get(ctx context.Context, url string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+b.srv.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// load runs wrk (or the Go client) against url for d, with the server's
// token.
func (b *bench) load(ctx context.Context, url string, conns int, d time.Duration) (Read, error) {
	return b.loadWith(ctx, url, http.Header{"Authorization": {"Bearer " + b.srv.token}}, conns, d)
}

// loadWith runs wrk (or the Go client) against url for d, with hdr.
func (b *bench) loadWith(ctx context.Context, url string, hdr http.Header, conns int, d time.Duration) (Read, error) {
	if b.wrk == "" {
		return goLoad(ctx, url, hdr, conns, d)
	}
	secs := max(1, int(d.Round(time.Second)/time.Second))
	args := []string{"-t", strconv.Itoa(b.o.WrkThreads), "-c", strconv.Itoa(conns), "-d", strconv.Itoa(secs) + "s", "--latency"}
	for k, vs := range hdr {
		for _, v := range vs {
			args = append(args, "-H", k+": "+v)
		}
	}
	out, err := exec.CommandContext(ctx, b.wrk, append(args, url)...).CombinedOutput()
	if err != nil {
		return Read{}, fmt.Errorf("wrk: %w: %s", err, out)
	}
	return parseWrk(string(out))
}

var (
	wrkPercentile = regexp.MustCompile(`(?m)^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s|m)\s*$`)
	wrkRate       = regexp.MustCompile(`(?m)^Requests/sec:\s+([\d.]+)`)
	wrkRequests   = regexp.MustCompile(`(?m)^\s+(\d+) requests in`)
	wrkNon2xx     = regexp.MustCompile(`(?m)^\s+Non-2xx or 3xx responses: (\d+)`)
	wrkSocket     = regexp.MustCompile(`(?m)^\s+Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// parseWrk reads req/s, p50 and p99, the request count, non-2xx answers
// and socket errors from wrk --latency output.
func parseWrk(out string) (Read, error) {
	rd := Read{ReqPerSec: missing, P50Ms: missing, P99Ms: missing}
	unit := map[string]float64{"us": 1e-3, "ms": 1, "s": 1e3, "m": 60e3}
	for _, m := range wrkPercentile.FindAllStringSubmatch(out, -1) {
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			return rd, err
		}
		if m[1] == "50" {
			rd.P50Ms = Num(v * unit[m[3]])
		} else {
			rd.P99Ms = Num(v * unit[m[3]])
		}
	}
	m := wrkRate.FindStringSubmatch(out)
	if m == nil || !rd.P50Ms.ok() || !rd.P99Ms.ok() {
		return rd, fmt.Errorf("cannot read wrk's output: %s", out)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return rd, err
	}
	rd.ReqPerSec = Num(v)
	if m := wrkRequests.FindStringSubmatch(out); m != nil {
		rd.Requests, _ = strconv.Atoi(m[1])
	}
	if m := wrkNon2xx.FindStringSubmatch(out); m != nil {
		rd.Non2xx, _ = strconv.Atoi(m[1])
	}
	if m := wrkSocket.FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.Atoi(s)
			rd.Errors += n
		}
	}
	return rd, nil
}

// goLoad is the fallback when wrk is missing: conns keep-alive
// connections, each sending GET url (with hdr; a Host in it is the
// request's) in a closed loop for d.
func goLoad(ctx context.Context, url string, hdr http.Header, conns int, d time.Duration) (Read, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var mu sync.Mutex
	var all []time.Duration
	rd := Read{}
	var wg sync.WaitGroup
	start := time.Now()
	for range conns {
		wg.Go(func() {
			var lat []time.Duration
			non2xx, errs := 0, 0
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				req.Header = hdr.Clone()
				if h := hdr.Get("Host"); h != "" {
					req.Host = h
				}
				t0 := time.Now()
				resp, err := c.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						errs++
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat = append(lat, time.Since(t0))
				if resp.StatusCode >= 400 {
					non2xx++
				}
			}
			mu.Lock()
			all = append(all, lat...)
			rd.Non2xx += non2xx
			rd.Errors += errs
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(all) == 0 {
		return rd, errors.New("no request completed")
	}
	slices.Sort(all)
	rd.Requests = len(all)
	rd.ReqPerSec = Num(float64(len(all)) / time.Since(start).Seconds())
	rd.P50Ms, rd.P99Ms = ms(percentile(all, 50)), ms(percentile(all, 99))
	return rd, nil
}

// unixProxy forwards loopback TCP connections to a unix socket.
type unixProxy struct {
	ln     net.Listener
	socket string
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]bool
}

func newUnixProxy(socket string) (*unixProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &unixProxy{ln: ln, socket: socket, conns: map[net.Conn]bool{}}
	p.wg.Go(p.serve)
	return p, nil
}

func (p *unixProxy) Addr() string { return p.ln.Addr().String() }

func (p *unixProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Go(func() { p.forward(c) })
	}
}

func (p *unixProxy) track(c net.Conn, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on {
		p.conns[c] = true
	} else {
		delete(p.conns, c)
	}
}

func (p *unixProxy) forward(c net.Conn) {
	defer c.Close()
	u, err := net.Dial("unix", p.socket)
	if err != nil {
		return
	}
	defer u.Close()
	p.track(c, true)
	defer p.track(c, false)
	var wg sync.WaitGroup
	wg.Go(func() {
		_, _ = io.Copy(u, c)
		if uc, ok := u.(*net.UnixConn); ok {
			_ = uc.CloseWrite()
		}
	})
	_, _ = io.Copy(c, u)
	_ = c.Close()
	wg.Wait()
}

// Close stops accepting, closes the open connections and waits for their
// goroutines.
func (p *unixProxy) Close() error {
	err := p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}
