package gateway

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"testing"
)

// requestSeeds are heads the fast path takes, and heads it must leave to
// net/http (smuggling shapes among them).
var requestSeeds = []string{
	"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n",
	"GET /x?y=%20z HTTP/1.1\r\nHost: A.Test:8080\r\nUser-Agent: wrk\r\nAccept: */*\r\nCookie: a=b; c=d\r\n\r\n",
	"HEAD /a/b HTTP/1.1\r\nhost: a.test\r\nConnection: close\r\n\r\n",
	"DELETE /r HTTP/1.1\r\nHost: a.test\r\nContent-Length: 0\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a.test\r\nX-Forwarded-For: 6.6.6.6\r\nForwarded: for=6.6.6.6\r\n\r\n",
	"GET /%2e%2e/My%20File HTTP/1.1\r\nHost: a.test\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n\r\nhello",
	"GET / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding : chunked\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a.test\r\n Transfer-Encoding: chunked\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a.test\r\nX: a\r\n b\r\n\r\n",
	"GET / HTTP/1.1\nHost: a.test\n\n",
	"GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n",
	"GET / HTTP/1.0\r\nHost: a.test\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a.test\r\n\r\n",
	"GET http://a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n",
	"GET /%zz HTTP/1.1\r\nHost: a.test\r\n\r\n",
	"GET /%2 HTTP/1.1\r\nHost: a.test\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close, X-Secret\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a_b.test\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a.test\r\nX: \x01\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a.test\r\nX: caf\xc3\xa9\r\n\r\n",
	"GET /\x7f HTTP/1.1\r\nHost: a.test\r\n\r\n",
	"GET  / HTTP/1.1\r\nHost: a.test\r\n\r\n",
	"GET / HTTP/1.1 \r\nHost: a.test\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a.test\r\n\r\r\n\r\n",
	"get / HTTP/1.1\r\nHost: a.test\r\n\r\n",
}

// FuzzRequestHead: whatever head the fast path takes, net/http reads the
// same way (method, target, host, headers, no body) — the fast path is
// never more lenient than the server it hands over to.
func FuzzRequestHead(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n := headEnd(b)
		if n < 0 {
			return
		}
		var h requestHead
		if !parseRequestHead(b[:n], &h) {
			return
		}
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(b[:n])))
		if err != nil {
			t.Fatalf("the fast path took a head net/http refuses (%v): %q", err, b[:n])
		}
		if req.Method != string(h.method) || req.RequestURI != string(h.target) || req.Host != string(h.host) {
			t.Fatalf("read otherwise: %q %q %q, net/http %q %q %q", h.method, h.target, h.host, req.Method, req.RequestURI, req.Host)
		}
		if req.ContentLength != 0 || len(req.TransferEncoding) > 0 || req.Close != h.close {
			t.Fatalf("framing read otherwise: length %d, encoding %v, close %v/%v", req.ContentLength, req.TransferEncoding, req.Close, h.close)
		}
		if body, _ := io.ReadAll(req.Body); len(body) > 0 {
			t.Fatalf("net/http reads a body of %d bytes", len(body))
		}
		var mine []string
		for _, fl := range h.fields {
			if strings.EqualFold(string(fl.name), "Host") {
				continue
			}
			mine = append(mine, textproto.CanonicalMIMEHeaderKey(string(fl.name))+": "+string(fl.value))
		}
		var theirs []string
		for k, vs := range req.Header {
			if k == "Content-Length" {
				continue
			}
			for _, v := range vs {
				theirs = append(theirs, k+": "+v)
			}
		}
		slices.Sort(mine)
		slices.Sort(theirs)
		if !slices.Equal(mine, theirs) {
			t.Fatalf("headers read otherwise:\n%q\n%q", mine, theirs)
		}
	})
}

func TestRequestHeadSeeds(t *testing.T) {
	took := map[string]bool{}
	for _, s := range requestSeeds {
		n := headEnd([]byte(s))
		var h requestHead
		took[s] = n >= 0 && parseRequestHead([]byte(s)[:n], &h)
	}
	for i, s := range requestSeeds {
		if want := i < 6; took[s] != want {
			t.Errorf("seed %d %q: taken %v, want %v", i, s, took[s], want)
		}
	}
}

var responseSeeds = []string{
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
	"HTTP/1.0 200 OK\r\n\r\nuntil close",
	"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 204 No Content\r\nConnection: close, X-Internal\r\nX-Internal: 1\r\n\r\n",
	"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n",
	"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n",
	"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
	"HTTP/2 200 OK\r\n\r\n",
	"HTTP/1.1 2000 OK\r\n\r\n",
}

// FuzzResponseHead: whatever answer head the fast path reads itself,
// net/http's reader reads the same status, framing and headers.
func FuzzResponseHead(f *testing.F) {
	for _, s := range responseSeeds {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, b []byte, head bool) {
		n := headEnd(b)
		if n < 0 {
			return
		}
		var h responseHead
		if !parseResponseHead(b[:n], &h) {
			return
		}
		method := http.MethodGet
		if head {
			method = http.MethodHead
		}
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(b[:n])), &http.Request{Method: method})
		if err != nil {
			t.Fatalf("the fast path read an answer net/http refuses (%v): %q", err, b[:n])
		}
		if resp.StatusCode != h.status {
			t.Fatalf("status %d, net/http %d", h.status, resp.StatusCode)
		}
		chunked := len(resp.TransferEncoding) > 0
		if !noBody(method, h.status) && h.status >= 200 {
			if chunked != h.chunked {
				t.Fatalf("chunked %v, net/http %v", h.chunked, chunked)
			}
			if !h.chunked && h.length >= 0 && resp.ContentLength != h.length {
				t.Fatalf("length %d, net/http %d", h.length, resp.ContentLength)
			}
			if !h.chunked && h.length < 0 && resp.ContentLength != -1 {
				t.Fatalf("until close, net/http reads length %d", resp.ContentLength)
			}
			// An answer framed by its end closes (exchange sets it).
			close := h.close || (!h.chunked && h.length < 0)
			if close != resp.Close && !(close && h.http10) {
				t.Fatalf("close %v, net/http %v", close, resp.Close)
			}
		}
		for _, fl := range h.fields {
			name := textproto.CanonicalMIMEHeaderKey(string(fl.name))
			if !slices.Contains(resp.Header.Values(name), string(fl.value)) {
				t.Fatalf("header %s: %q, net/http %q", name, fl.value, resp.Header.Values(name))
			}
		}
	})
}

func TestResponseHeadSeeds(t *testing.T) {
	for i, s := range responseSeeds {
		n := headEnd([]byte(s))
		var h responseHead
		took := n >= 0 && parseResponseHead([]byte(s)[:n], &h)
		if want := i < 7; took != want {
			t.Errorf("seed %d %q: read %v, want %v", i, s, took, want)
		}
	}
}
