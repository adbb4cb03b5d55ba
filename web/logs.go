package web

import (
	"bytes"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/websoft9/stackhub/orchestrator"
)

// streamWriter starts a text/plain 200 answer at the first write and
// flushes every write, so that an error before any output still gets the
// JSON error answer and a follower sees lines as they come.
type streamWriter struct {
	c       echo.Context
	started bool
	lines   lineCutter
}

func (w *streamWriter) Write(p []byte) (int, error) {
	n := len(p)
	p = w.lines.cut(p)
	if len(p) == 0 {
		return n, nil
	}
	res := w.c.Response()
	if !w.started {
		res.Header().Set(echo.HeaderContentType, echo.MIMETextPlainCharsetUTF8)
		res.Header().Set("X-Content-Type-Options", "nosniff")
		res.WriteHeader(http.StatusOK)
		w.started = true
	}
	if _, err := res.Write(p); err != nil {
		return 0, err
	}
	res.Flush()
	return n, nil
}

// lineCutter cuts every line of a stream at orchestrator.MaxLogLine bytes,
// marking the cut and dropping the rest of the line.
type lineCutter struct {
	run int // bytes of the current line written so far
}

func (l *lineCutter) cut(p []byte) []byte {
	out := p[:0:0]
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		seg := p
		if i >= 0 {
			seg = p[:i+1]
		}
		p = p[len(seg):]
		body, nl := seg, false
		if i >= 0 {
			body, nl = seg[:len(seg)-1], true
		}
		switch room := orchestrator.MaxLogLine - l.run; {
		case room <= 0: // already cut: drop
		case len(body) <= room:
			out = append(out, body...)
		default:
			for room > 0 && !utf8.RuneStart(body[room]) {
				room--
			}
			out = append(out, body[:room]...)
			out = append(out, " [line cut at 16 KiB]"...)
		}
		l.run += len(body)
		if nl {
			out = append(out, '\n')
			l.run = 0
		}
	}
	return out
}

// getLogs serves GET /api/v1/apps/{name}/logs?tail=N&follow=true&container=C.
func (s *Server) getLogs(c echo.Context) error {
	req := orchestrator.LogsRequest{Name: c.Param("name"), Container: c.QueryParam("container")}
	if v := c.QueryParam("tail"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return orchestrator.Errorf(orchestrator.EINVALID, "tail must be a number of lines")
		}
		req.Tail = n
	}
	if v := c.QueryParam("follow"); v != "" {
		b, err := asBool("follow", queryValue(v))
		if err != nil {
			return err
		}
		req.Follow = b
	}
	ctx := c.Request().Context()
	if req.Follow {
		var done func()
		var err error
		if ctx, done, err = s.stream(c); err != nil {
			return err
		}
		defer done()
	}
	w := &streamWriter{c: c, lines: lineCutter{}}
	if err := s.Apps.Logs(ctx, req, w); err != nil {
		if w.started {
			s.log().Warn("log stream ended", "app", req.Name, "err", err)
			return nil
		}
		return err
	}
	if !w.started {
		return c.String(http.StatusOK, "")
	}
	return nil
}
