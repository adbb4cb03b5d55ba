package gateway

import (
	"bytes"
	"strconv"
)

// This file reads the head of an HTTP/1.1 message for the gateway's fast
// path (fast.go). It is deliberately narrower than HTTP: it accepts only
// what it understands completely and answers "not mine" for everything
// else, which then goes to net/http's own parser with the bytes exactly as
// they came. FuzzRequestHead checks that whatever it accepts, net/http
// reads the same way.

const (
	// maxHeadLines bounds the header lines of a head the fast path reads.
	maxHeadLines = 64
)

// field is one header line of a head: name and value are slices of the
// head's bytes (valid until its reader reads again); line is the whole
// line with its CRLF.
type field struct {
	name, value, line []byte
}

// requestHead is a request the fast path may take: a method without a
// body, an origin-form target, HTTP/1.1, one Host, no framing of a body.
type requestHead struct {
	method, target, host []byte
	fields               []field
	// escaped: the path has %-escapes (see originForm).
	escaped bool
	// close: the client asked for the connection to end after this.
	close bool
	// size is the head's length in bytes, CRLFs included.
	size int
}

// responseHead is an app's answer as the fast path forwards it.
type responseHead struct {
	status int
	// statusLine is what follows the version: "200 OK".
	statusLine []byte
	http10     bool
	fields     []field
	// length is the body's Content-Length, -1 when none was given.
	length  int64
	chunked bool
	// close: the app ends the connection after this answer.
	close bool
	// drop names the headers the app's Connection header lists.
	drop [][]byte
	size int
}

// headEnd returns the length of the head at the start of b (up to and
// including its empty line), or -1 when b holds no whole head yet.
func headEnd(b []byte) int {
	if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
		return i + 4
	}
	return -1
}

// fastMethod reports the methods, sent without a body, the fast path takes.
func fastMethod(m []byte) bool {
	switch string(m) {
	case "GET", "HEAD", "OPTIONS", "DELETE":
		return true
	}
	return false
}

// parseRequestHead reads the head in b (exactly one head, as headEnd
// found it) into h, reusing h's field slice. It reports false for anything
// the fast path leaves to net/http: another method or version, a body or
// a framing header, an upgrade, a target not in origin form or with bytes
// outside printable ASCII or a bad %-escape in its path, obsolete line folding, a bare LF, a header name or value with a
// byte net/http might read otherwise, a missing or repeated Host.
func parseRequestHead(b []byte, h *requestHead) bool {
	*h = requestHead{fields: h.fields[:0], size: len(b)}
	line, rest, ok := cutLine(b)
	if !ok {
		return false
	}
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return false
	}
	h.method, line = line[:sp], line[sp+1:]
	sp = bytes.IndexByte(line, ' ')
	if sp <= 0 || string(line[sp+1:]) != "HTTP/1.1" || !fastMethod(h.method) {
		return false
	}
	h.target = line[:sp]
	if ok, h.escaped = originForm(h.target); !ok {
		return false
	}
	hosts := 0
	for len(rest) > 0 {
		var f field
		if f, rest, ok = cutField(rest); !ok {
			return false
		}
		if f.line == nil { // the empty line
			break
		}
		if len(h.fields) == maxHeadLines {
			return false
		}
		switch {
		case asciiEqualFold(f.name, "Host"):
			hosts++
			h.host = f.value
		case asciiEqualFold(f.name, "Content-Length"):
			// A zero length is no body; any other is net/http's.
			if string(f.value) != "0" {
				return false
			}
			continue
		case asciiEqualFold(f.name, "Connection"):
			if !connectionTokens(f.value, &h.close, nil, nil) {
				return false
			}
		case asciiEqualFold(f.name, "Transfer-Encoding"), asciiEqualFold(f.name, "Upgrade"),
			asciiEqualFold(f.name, "Expect"), asciiEqualFold(f.name, "TE"), asciiEqualFold(f.name, "Trailer"),
			asciiEqualFold(f.name, "Keep-Alive"), asciiEqualFold(f.name, "Proxy-Connection"),
			asciiEqualFold(f.name, "HTTP2-Settings"):
			return false
		}
		h.fields = append(h.fields, f)
	}
	return hosts == 1 && len(h.host) > 0 && validHostBytes(h.host)
}

// parseResponseHead reads an app's answer head in b. It reports false
// when the answer is not one it understands completely; the caller then
// reads it with net/http's parser instead.
func parseResponseHead(b []byte, h *responseHead) bool {
	*h = responseHead{fields: h.fields[:0], drop: h.drop[:0], length: -1, size: len(b)}
	line, rest, ok := cutLine(b)
	if !ok || len(line) < len("HTTP/1.1 200") || line[8] != ' ' {
		return false
	}
	switch string(line[:8]) {
	case "HTTP/1.1":
	case "HTTP/1.0":
		h.http10 = true
	default:
		return false
	}
	h.statusLine = line[9:]
	code := h.statusLine
	if len(code) > 3 {
		if code[3] != ' ' {
			return false
		}
		code = code[:3]
	}
	if len(code) != 3 {
		return false
	}
	for _, c := range code {
		if c < '0' || c > '9' {
			return false
		}
	}
	h.status = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	if h.status < 100 {
		return false
	}
	for i := len(code); i < len(h.statusLine); i++ {
		if c := h.statusLine[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	keepAlive := false
	for len(rest) > 0 {
		var f field
		if f, rest, ok = cutField(rest); !ok {
			return false
		}
		if f.line == nil {
			break
		}
		if len(h.fields) == maxHeadLines {
			return false
		}
		switch {
		case asciiEqualFold(f.name, "Content-Length"):
			n, err := strconv.ParseInt(string(f.value), 10, 64)
			if err != nil || n < 0 || h.length >= 0 || f.value[0] == '+' {
				return false // bad, or repeated: net/http's rules decide
			}
			h.length = n
		case asciiEqualFold(f.name, "Transfer-Encoding"):
			if h.chunked || !asciiEqualFold(f.value, "chunked") {
				return false
			}
			h.chunked = true
			continue
		case asciiEqualFold(f.name, "Connection"):
			if !connectionTokens(f.value, &h.close, &keepAlive, &h.drop) {
				return false
			}
			continue
		case asciiEqualFold(f.name, "Keep-Alive"), asciiEqualFold(f.name, "Proxy-Connection"),
			asciiEqualFold(f.name, "TE"), asciiEqualFold(f.name, "Trailer"), asciiEqualFold(f.name, "Upgrade"),
			asciiEqualFold(f.name, "Proxy-Authenticate"):
			continue // hop by hop: not forwarded
		}
		h.fields = append(h.fields, f)
	}
	if h.chunked && h.length >= 0 {
		return false // both: an answer to refuse, net/http's reader does
	}
	if h.http10 && !keepAlive {
		h.close = true
	}
	return true
}

// cutLine returns b's first line without its CRLF; a bare LF or CR is not
// a line.
func cutLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 1 || b[i-1] != '\r' {
		return nil, nil, false
	}
	line = b[:i-1]
	if bytes.IndexByte(line, '\r') >= 0 {
		return nil, nil, false
	}
	return line, b[i+1:], true
}

// cutField reads one header line; the empty line gives a zero field.
func cutField(b []byte) (f field, rest []byte, ok bool) {
	line, rest, ok := cutLine(b)
	if !ok {
		return field{}, nil, false
	}
	if len(line) == 0 {
		return field{}, rest, true
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return field{}, nil, false
	}
	f.name = line[:colon]
	for _, c := range f.name {
		if !tokenByte(c) {
			return field{}, nil, false // a space before the colon, or obs-fold
		}
	}
	v := line[colon+1:]
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	for _, c := range v {
		if (c < 0x20 && c != '\t') || c >= 0x7f {
			return field{}, nil, false
		}
	}
	f.value = v
	f.line = b[:len(line)+2]
	return f, rest, true
}

// connectionTokens reads a Connection header: close sets *close,
// keep-alive *keepAlive (when not nil); other names are headers to drop,
// or, when drop is nil (a request), refused.
func connectionTokens(v []byte, close, keepAlive *bool, drop *[][]byte) bool {
	for len(v) > 0 {
		var tok []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			tok, v = v[:i], v[i+1:]
		} else {
			tok, v = v, nil
		}
		tok = bytes.Trim(tok, " \t")
		switch {
		case len(tok) == 0:
		case asciiEqualFold(tok, "close"):
			*close = true
		case asciiEqualFold(tok, "keep-alive"):
			if keepAlive != nil {
				*keepAlive = true
			}
		default:
			for _, c := range tok {
				if !tokenByte(c) {
					return false
				}
			}
			if drop == nil {
				return false
			}
			*drop = append(*drop, tok)
		}
	}
	return true
}

// originForm: "/" then printable ASCII, no fragment, and every '%' of the
// path followed by two hex digits (net/http refuses the request
// otherwise). escaped reports a '%' in the path: routes match the decoded
// path, so a host with path prefixes leaves such a request to net/http.
func originForm(t []byte) (ok, escaped bool) {
	if len(t) == 0 || t[0] != '/' || len(t) > 4096 {
		return false, false
	}
	inQuery := false
	for i, c := range t {
		switch {
		case c <= 0x20 || c >= 0x7f, c == '#':
			return false, false
		case c == '?':
			inQuery = true
		case c == '%' && !inQuery:
			if i+2 >= len(t) || !isHex(t[i+1]) || !isHex(t[i+2]) {
				return false, false
			}
			escaped = true
		}
	}
	return true, escaped
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// validHostBytes: letters, digits, '-', '.', and a ':port'.
func validHostBytes(h []byte) bool {
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == ':') {
			return false
		}
	}
	return len(h) <= 255
}

func tokenByte(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
		return true
	}
	return bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), c) >= 0
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if x >= 'A' && x <= 'Z' {
			x += 'a' - 'A'
		}
		if y >= 'A' && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// hopByHop reports request headers the gateway does not forward, and the
// client's X-Forwarded-* and Forwarded, which it sets itself.
func hopByHop(name []byte) bool {
	switch len(name) {
	case 9:
		return asciiEqualFold(name, "Forwarded")
	case 10:
		return asciiEqualFold(name, "Connection")
	case 15:
		return asciiEqualFold(name, "X-Forwarded-For")
	case 16:
		return asciiEqualFold(name, "X-Forwarded-Host")
	case 17:
		return asciiEqualFold(name, "X-Forwarded-Proto")
	case 19:
		return asciiEqualFold(name, "Proxy-Authorization")
	}
	return false
}
