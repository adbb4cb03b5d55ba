package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/websoft9/stackhub/orchestrator"
)

// jobEvents streams GET /api/v1/jobs/{id}/events as Server-Sent Events:
// `id: <seq>`, `event: stage|log`, `data: <json>`. A client that reconnects
// with Last-Event-ID resumes after that event. The stream ends with the
// job's final stage (done, failed or canceled).
func (s *Server) jobEvents(c echo.Context) error {
	seq := 0
	if v := c.Request().Header.Get("Last-Event-ID"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return orchestrator.Errorf(orchestrator.EINVALID, "Last-Event-ID must be an event number")
		}
		seq = n
	}
	ctx, done, err := s.stream(c)
	if err != nil {
		return err
	}
	defer done()
	res := c.Response()
	started := false
	err = s.Jobs.WatchJob(ctx, c.Param("id"), seq, func(ev orchestrator.JobEvent) error {
		if !started {
			res.Header().Set(echo.HeaderContentType, "text/event-stream")
			res.Header().Set(echo.HeaderCacheControl, "no-cache")
			res.Header().Set("X-Accel-Buffering", "no")
			res.WriteHeader(http.StatusOK)
			started = true
		}
		data, err := json.Marshal(jobEvent(ev))
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(res, "id: %d\nevent: %s\ndata: %s\n\n", ev.Seq, ev.Type, data); err != nil {
			return err
		}
		res.Flush()
		return nil
	})
	if err != nil && !started {
		return err
	}
	if !started {
		return c.NoContent(http.StatusNoContent)
	}
	return nil
}

// cancelJob serves DELETE /api/v1/jobs/{id}: the running job is stopped and
// cleans up; 202 with the job, whose events end with "canceled".
func (s *Server) cancelJob(c echo.Context) error {
	r, err := s.Jobs.CancelJob(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, toJob(r))
}
