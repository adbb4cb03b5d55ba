package web

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/websoft9/stackhub/orchestrator"
)

// streamWriter starts a text/plain 200 answer at the first write and
// flushes every write, so that an error before any output still gets the
// JSON error answer and a follower sees lines as they come.
type streamWriter struct {
	c       echo.Context
	started bool
}

func (w *streamWriter) Write(p []byte) (int, error) {
	res := w.c.Response()
	if !w.started {
		res.Header().Set(echo.HeaderContentType, echo.MIMETextPlainCharsetUTF8)
		res.Header().Set("X-Content-Type-Options", "nosniff")
		res.WriteHeader(http.StatusOK)
		w.started = true
	}
	n, err := res.Write(p)
	res.Flush()
	return n, err
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
	w := &streamWriter{c: c}
	if err := s.Apps.Logs(c.Request().Context(), req, w); err != nil {
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
