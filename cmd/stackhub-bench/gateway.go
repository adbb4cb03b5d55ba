package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/websoft9/stackhub/web/wire"
)

// GatewayResult is the gateway section: the same upstream (the demo app's
// web container) through `serve --gateway` and through Debian's nginx as a
// plain reverse proxy, with wrk; new TLS handshakes per second on each;
// and serve's memory with the gateway and Routes domains.
type GatewayResult struct {
	Routes int `json:"routes"`
	// Rounds alternate the sides: gateway then nginx.
	Gateway []Read `json:"gateway"`
	Nginx   []Read `json:"nginx"`
	// Throughput and P99 are the medians of the rounds' ratios
	// (gateway / nginx).
	Throughput Num `json:"throughput"`
	P99        Num `json:"p99"`
	// GatewayCPU and NginxCPU are each side's CPU time per request, µs
	// (user and system, from /proc: serve; nginx's workers), by round;
	// CPURatio the median of the rounds' ratios. Unlike req/s on a shared
	// machine, this moves little with whatever else runs.
	GatewayCPU []Num `json:"gatewayCpuUs,omitempty"`
	NginxCPU   []Num `json:"nginxCpuUs,omitempty"`
	CPURatio   Num   `json:"cpuRatio"`
	// Handshakes per second, new TLS sessions (no resumption), same
	// client.
	GatewayTLS Num `json:"gatewayTls"`
	NginxTLS   Num `json:"nginxTls"`
	TLSRatio   Num `json:"tlsRatio"`
	RSSKiB     int `json:"rssKiB"`
}

// benchGateway measures the gateway against nginx (issue 20).
func (b *bench) benchGateway(ctx context.Context, res *Results) error {
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		return errors.New("nginx is not installed (apt-get install nginx-light): it is the anchor")
	}
	const routes = 100
	s, err := b.prepareServer(ctx, "gateway")
	if err != nil {
		return err
	}
	s.args = []string{"--gateway", "--tls-internal", "--gateway-http", "127.0.0.1:0", "--gateway-https", "127.0.0.1:0"}
	if err := b.launch(ctx, s); err != nil {
		return err
	}
	defer func() { _ = s.stop() }()
	gw, err := s.api.Gateway(ctx)
	if err != nil || !gw.Enabled {
		return fmt.Errorf("the gateway does not run: %v", err)
	}
	app := b.o.Prefix + "-gw"
	defer func() { _ = b.removeApp(context.WithoutCancel(ctx), app) }()
	installed, job, err := s.install(ctx, "demo", app)
	if err != nil {
		return err
	}
	if _, err := s.waitJob(ctx, job, 100*time.Millisecond); err != nil {
		return fmt.Errorf("install %s: %w", app, err)
	}
	upstream := fmt.Sprintf("127.0.0.1:%d", installed.Ports["port"])
	if _, err := waitHTTP(ctx, "http://"+upstream+"/", time.Minute); err != nil {
		return err
	}
	for i := 1; i <= routes; i++ {
		if _, err := s.api.AddDomain(ctx, app, wire.DomainRequest{Domain: fmt.Sprintf("d%d.bench.test", i), NoRedirect: true}); err != nil {
			return fmt.Errorf("domain %d: %w", i, err)
		}
	}
	r := GatewayResult{Routes: routes}

	dir, err := os.MkdirTemp(b.tmp, "nginx-")
	if err != nil {
		return err
	}
	ngHTTP, ngHTTPS, ngPid, stop, err := startNginx(ctx, nginx, dir, upstream)
	if err != nil {
		return err
	}
	defer stop()
	workers := childPids(ngPid)
	if len(workers) == 0 {
		return errors.New("nginx has no worker processes")
	}

	host := "d1.bench.test"
	var thr, p99, cpu []Num
	for round := range max(1, b.o.ReadRounds) {
		for side, addr := range []string{gw.HTTP, ngHTTP} {
			pids := [][]int{{s.pid()}, workers}[side]
			t0, err := sumTicks(pids)
			if err != nil {
				return err
			}
			rd, err := b.loadWith(ctx, "http://"+addr+"/", http.Header{"Host": {host}}, b.o.WrkConns, b.o.WrkDuration)
			if err != nil {
				return err
			}
			t1, err := sumTicks(pids)
			if err != nil {
				return err
			}
			perReq := missing
			if rd.Requests > 0 {
				perReq = Num(float64(t1-t0) * 1e6 / userHZ / float64(rd.Requests))
			}
			if side == 0 {
				r.GatewayCPU = append(r.GatewayCPU, perReq)
			} else {
				r.NginxCPU = append(r.NginxCPU, perReq)
			}
			if rd.Non2xx > 0 {
				return fmt.Errorf("%d answers other than 2xx/3xx from %s", rd.Non2xx, addr)
			}
			rd.Endpoint = []string{"gateway", "nginx"}[side]
			b.logf("gateway round %d/%d %s: %.0f req/s, p99 %.2f ms, non-2xx %d, %.1f µs of CPU per request", round+1, b.o.ReadRounds, rd.Endpoint,
				float64(rd.ReqPerSec), float64(rd.P99Ms), rd.Non2xx, float64(perReq))
			if side == 0 {
				r.Gateway = append(r.Gateway, rd)
			} else {
				r.Nginx = append(r.Nginx, rd)
			}
		}
		g, n := r.Gateway[len(r.Gateway)-1], r.Nginx[len(r.Nginx)-1]
		thr = append(thr, ratio(g.ReqPerSec, n.ReqPerSec))
		p99 = append(p99, ratio(g.P99Ms, n.P99Ms))
		cpu = append(cpu, ratio(r.GatewayCPU[len(r.GatewayCPU)-1], r.NginxCPU[len(r.NginxCPU)-1]))
	}
	r.Throughput, r.P99, r.CPURatio = spread(thr).Median, spread(p99).Median, spread(cpu).Median

	d := max(2*time.Second, b.o.WrkDuration/2)
	if r.GatewayTLS, err = handshakes(ctx, gw.HTTPS, host, d); err != nil {
		return fmt.Errorf("handshakes with the gateway: %w", err)
	}
	if r.NginxTLS, err = handshakes(ctx, ngHTTPS, host, d); err != nil {
		return fmt.Errorf("handshakes with nginx: %w", err)
	}
	r.TLSRatio = ratio(r.GatewayTLS, r.NginxTLS)
	b.logf("gateway: TLS handshakes %.0f/s vs nginx %.0f/s", float64(r.GatewayTLS), float64(r.NginxTLS))
	if r.RSSKiB, err = rssKiB(s.pid()); err != nil {
		return err
	}
	res.Gateway = r
	return nil
}

// handshakes counts full TLS handshakes per second with addr (ServerName
// name, no session resumption, X25519 key exchange) from 8 connections at
// once for d.
func handshakes(ctx context.Context, addr, name string, d time.Duration) (Num, error) {
	// X25519 alone: Go's TLS 1.3 prefers the hybrid X25519MLKEM768 key
	// exchange, which Debian 12's OpenSSL (nginx) does not have; offering
	// only X25519 makes both sides do the same work.
	conf := &tls.Config{ServerName: name, InsecureSkipVerify: true, MinVersion: tls.VersionTLS13, //nolint:gosec // counting handshakes, not trusting
		CurvePreferences: []tls.CurveID{tls.X25519}}
	var n atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			dialer := &tls.Dialer{Config: conf, NetDialer: &net.Dialer{Timeout: 5 * time.Second}}
			for time.Now().Before(deadline) && ctx.Err() == nil {
				c, err := dialer.DialContext(ctx, "tcp", addr)
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				c.Close()
				n.Add(1)
			}
		})
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return missing, err
	}
	return Num(float64(n.Load()) / d.Seconds()), nil
}

// startNginx runs nginx (2 workers, as many as the cores here) as a plain
// reverse proxy to upstream on two loopback ports, plain and TLS (an
// ECDSA P-256 certificate, like the gateway's), and returns them.
func startNginx(ctx context.Context, bin, dir, upstream string) (httpAddr, httpsAddr string, pid int, stop func(), err error) {
	ports := make([]int, 2)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", "", 0, nil, err
		}
		ports[i] = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
	}
	if err := selfSigned(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), "d1.bench.test"); err != nil {
		return "", "", 0, nil, err
	}
	conf := fmt.Sprintf(`worker_processes 2;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  upstream app { server %[2]s; keepalive 128; }
  server {
    listen 127.0.0.1:%[3]d;
    listen 127.0.0.1:%[4]d ssl;
    server_name _;
    ssl_certificate %[1]s/cert.pem;
    ssl_certificate_key %[1]s/key.pem;
    ssl_session_cache off;
    ssl_session_tickets off;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $host;
    }
  }
}
`, dir, upstream, ports[0], ports[1])
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o600); err != nil {
		return "", "", 0, nil, err
	}
	cmd := exec.Command(bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-g", "daemon off;")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return "", "", 0, nil, fmt.Errorf("nginx: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop = func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	httpAddr, httpsAddr = fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1])
	if _, err := waitHTTP(ctx, "http://"+httpAddr+"/", 30*time.Second); err != nil {
		stop()
		log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		return "", "", 0, nil, fmt.Errorf("nginx does not answer: %w: %s", err, strings.TrimSpace(string(log)))
	}
	return httpAddr, httpsAddr, cmd.Process.Pid, stop, nil
}

// childPids are the processes pid started (nginx's workers).
func childPids(pid int) []int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(data)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// sumTicks is the CPU time of pids, in clock ticks.
func sumTicks(pids []int) (int64, error) {
	var sum int64
	for _, pid := range pids {
		t, err := cpuTicks(pid)
		if err != nil {
			return 0, err
		}
		sum += t
	}
	return sum, nil
}

// selfSigned writes an ECDSA P-256 certificate for name and its key.
func selfSigned(certPath, keyPath, name string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
}
