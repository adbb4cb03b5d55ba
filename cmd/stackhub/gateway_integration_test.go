//go:build integration

package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator/dockerhost"
	"github.com/websoft9/stackhub/orchestrator/dockerhost/dockertest"
)

// gatewayClient reaches the gateway at https (and http) for any name: the
// test's own resolver, the machine's is not asked.
func gatewayClient(httpAddr, httpsAddr string, roots *x509.CertPool) *http.Client {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		target := httpsAddr
		if strings.HasSuffix(addr, ":80") {
			target = httpAddr
		}
		return (&net.Dialer{}).DialContext(ctx, network, target)
	}
	return &http.Client{Timeout: 20 * time.Second,
		Transport:     &http.Transport{DialContext: dial, TLSClientConfig: &tls.Config{RootCAs: roots}, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// TestGatewayServesApps: serve --gateway --tls-internal gives an installed
// app a domain, serves it over HTTPS through the gateway (a browser opens
// it), gives the console a domain too, refuses a domain another holds, and
// drops the app's routes when it is uninstalled.
func TestGatewayServesApps(t *testing.T) {
	c := dockertest.RequireDocker(t)
	const name = "gw-blog"
	t.Cleanup(func() { _, _ = dockerhost.New(c).RemoveApp(context.WithoutCancel(t.Context()), name, "", true) })
	s := startServerArgs(t, t.TempDir(), "--bundles", "../../bundles/testdata", "--gateway", "--tls-internal",
		"--gateway-http", "127.0.0.1:0", "--gateway-https", "127.0.0.1:0")
	api := s.client()
	gw, err := api.Gateway(t.Context())
	require.NoError(t, err)
	require.True(t, gw.Enabled)
	assert.Equal(t, "internal", gw.Mode)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM([]byte(gw.RootCA)), "the internal CA's root: %q", gw.RootCA)
	hc := gatewayClient(gw.HTTP, gw.HTTPS, roots)

	status, body, _ := s.api(t, http.MethodPost, "/api/v1/apps", `{"app":"demo","name":"`+name+`","parameters":{"message":"through the gateway"}}`)
	require.Equal(t, http.StatusAccepted, status, "%v", body)
	requireRunning(t, s, []string{name}, 5*time.Minute)

	d, err := api.AddDomain(t.Context(), name, DomainRequest{Domain: "Blog.Test"})
	require.NoError(t, err)
	assert.Equal(t, "blog.test", d.Domain)
	assert.Equal(t, "port", d.Port, "the bundle's web port")
	deadline := time.Now().Add(10 * time.Second)
	for {
		list, err := api.Domains(t.Context(), name)
		require.NoError(t, err)
		require.Len(t, list, 1)
		if list[0].Certificate.State == "valid" {
			break
		}
		require.True(t, time.Now().Before(deadline), "certificate still %+v", list[0].Certificate)
		time.Sleep(100 * time.Millisecond)
	}
	resp, err := hc.Get("https://blog.test/")
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", page)
	assert.Contains(t, string(page), "through the gateway", "the app answers through the gateway")
	resp, err = hc.Get("http://blog.test/x")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusPermanentRedirect, resp.StatusCode)

	// A browser opens the app by its domain over HTTPS.
	conn, err := tls.Dial("tcp", gw.HTTPS, &tls.Config{ServerName: "blog.test", RootCAs: roots})
	require.NoError(t, err)
	spki := sha256.Sum256(conn.ConnectionState().PeerCertificates[0].RawSubjectPublicKeyInfo)
	conn.Close()
	_, httpsPort, _ := net.SplitHostPort(gw.HTTPS)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium(t)), chromedp.NoSandbox,
		chromedp.Flag("host-resolver-rules", "MAP blog.test 127.0.0.1"),
		chromedp.Flag("ignore-certificate-errors-spki-list", base64.StdEncoding.EncodeToString(spki[:])))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.WithoutCancel(t.Context()), opts...)
	defer cancelAlloc()
	bctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	bctx, cancelT := context.WithTimeout(bctx, time.Minute)
	defer cancelT()
	var text, proto string
	require.NoError(t, chromedp.Run(bctx, chromedp.Navigate("https://blog.test:"+httpsPort+"/"),
		chromedp.Text("body", &text, chromedp.ByQuery), chromedp.Evaluate(`location.protocol`, &proto)))
	assert.Contains(t, text, "through the gateway")
	assert.Equal(t, "https:", proto)

	// The console gets a domain; an app cannot take it, nor the app's.
	_, err = api.AddDomain(t.Context(), "", DomainRequest{Domain: "panel.test"})
	require.NoError(t, err)
	status, _, _ = s.api(t, http.MethodPost, "/api/v1/apps/"+name+"/domains", `{"domain":"panel.test"}`)
	assert.Equal(t, http.StatusConflict, status, "the console's domain")
	status, _, _ = s.api(t, http.MethodPost, "/api/v1/gateway/domains", `{"domain":"blog.test"}`)
	assert.Equal(t, http.StatusConflict, status, "the app's domain")
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://panel.test/api/v1/server", nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err = hc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the console's API at its domain")
	resp, err = hc.Get("https://panel.test/api/v1/server")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "and its authentication")

	// Uninstall: the app's routes go.
	r := s.call(t, "/uninstallApp", `{"appName":"`+name+`","purge":true}`, nil)
	require.Equal(t, http.StatusOK, r.status, r.Message)
	_, err = hc.Get("https://blog.test/")
	assert.Error(t, err, "no certificate: the domain is gone")
	gw, err = api.Gateway(t.Context())
	require.NoError(t, err)
	require.Len(t, gw.Domains, 1, "the console's stays")
}
