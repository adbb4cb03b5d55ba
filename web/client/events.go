package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// sseEvent is one Server-Sent Event as read off the wire.
type sseEvent struct {
	// ID is the stream's last event ID when the event was dispatched: the
	// value to send back as Last-Event-ID.
	ID string
	// Event is the event field, "message" when the event set none.
	Event string
	// Data is the event's data lines joined with "\n".
	Data string
}

// readSSE reads the text/event-stream r and calls fn with each event, until
// r ends (nil), a read fails (that error), or fn fails (fn's error). It
// follows the WHATWG format: lines end in LF or CRLF, ":" starts a
// comment, one space after the colon is dropped, data lines accumulate,
// an empty line dispatches, an event with no data is not dispatched, the
// last ID carries over to later events, retry and unknown fields are
// ignored, and an event cut off by the end of the stream is discarded.
func readSSE(r io.Reader, fn func(sseEvent) error) error {
	br := bufio.NewReader(r) // no line length limit: a log line can be long
	var id, event string
	var data []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if line == "" {
			if len(data) > 0 {
				name := event
				if name == "" {
					name = "message"
				}
				if err := fn(sseEvent{ID: id, Event: name, Data: strings.Join(data, "\n")}); err != nil {
					return err
				}
			}
			event, data = "", nil
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "data":
			data = append(data, value)
		case "event":
			event = value
		case "id":
			if !strings.Contains(value, "\x00") {
				id = value
			}
		}
	}
}

// JobEvents reads job id's event stream once (GET /api/v1/jobs/{id}/events),
// resuming after event lastID unless it is empty, and calls fn with each
// event until the server ends the stream, the connection drops (an
// *UnreachableError), ctx is done, or fn fails (fn's error). It returns
// the ID of the last event fn accepted, lastID when none came. A 204
// answer, sent when the server keeps no more events for the job, ends at
// once with no error.
func (c *Client) JobEvents(ctx context.Context, id, lastID string, fn func(JobEvent) error) (string, error) {
	h := map[string]string{"Accept": "text/event-stream"}
	if lastID != "" {
		h["Last-Event-ID"] = lastID
	}
	p := "/api/v1/jobs/" + url.PathEscape(id) + "/events"
	resp, err := c.send(ctx, http.MethodGet, p, nil, nil, h)
	if err != nil {
		return lastID, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNoContent {
		return lastID, nil
	}
	var fnErr error
	err = readSSE(resp.Body, func(e sseEvent) error {
		var ev JobEvent
		if err := json.Unmarshal([]byte(e.Data), &ev); err != nil {
			fnErr = fmt.Errorf("job %s: event %s: %w", id, e.ID, err)
			return fnErr
		}
		if ev.Type == "" {
			ev.Type = e.Event
		}
		if err := fn(ev); err != nil {
			fnErr = err
			return err
		}
		if e.ID != "" {
			lastID = e.ID
		}
		return nil
	})
	switch {
	case fnErr != nil:
		return lastID, fnErr
	case err != nil && ctx.Err() != nil:
		return lastID, ctx.Err()
	case err != nil:
		return lastID, &UnreachableError{URL: c.BaseURL, Err: fmt.Errorf("event stream of job %s: %w", id, err)}
	}
	return lastID, nil
}

// errStopReading ends a stream read once the job's final event has come.
var errStopReading = errors.New("final event read")

// errStreamEnded says a job's event stream ended before its final event.
var errStreamEnded = errors.New("the event stream ended before the job did")

// FollowJob calls fn with each event of job id, once each and in order,
// until the job's final event, then returns the job as recorded. A stream
// that drops, or ends while the job still runs (a server restart), is
// resumed with Last-Event-ID, up to c.Reconnects times in a row, waiting
// c.ReconnectDelay and twice as long each time after; then the last error
// is returned (an *UnreachableError when the server stopped answering).
// fn's error, ctx's end and an *APIError below 500 are returned at once.
// onRetry, when not nil, hears of each reconnect before its wait.
func (c *Client) FollowJob(ctx context.Context, id string, fn func(JobEvent) error, onRetry func(attempt int, err error)) (Job, error) {
	lastID := ""
	failures := 0
	for {
		final, got := false, false
		var fnErr error
		var err error
		lastID, err = c.JobEvents(ctx, id, lastID, func(ev JobEvent) error {
			got = true
			if err := fn(ev); err != nil {
				fnErr = err
				return err
			}
			if ev.Final() {
				final = true
				return errStopReading
			}
			return nil
		})
		switch {
		case fnErr != nil:
			return Job{}, fnErr
		case final:
			return c.GetJob(ctx, id)
		case ctx.Err() != nil:
			return Job{}, ctx.Err()
		case !retryable(err):
			return Job{}, fmt.Errorf("follow job %s: %w", id, err)
		case err == nil:
			// The job may have ended while we were away (a 204), or the
			// server is going down: ask.
			job, jerr := c.GetJob(ctx, id)
			if jerr == nil && job.Status != JobRunning {
				return job, nil
			}
			if !retryable(jerr) {
				return Job{}, fmt.Errorf("follow job %s: %w", id, jerr)
			}
			err = errStreamEnded
			if jerr != nil {
				err = jerr
			}
		}
		if got {
			failures = 0
		}
		failures++
		if failures > c.Reconnects {
			return Job{}, fmt.Errorf("follow job %s: gave up after %d reconnects: %w", id, c.Reconnects, err)
		}
		if onRetry != nil {
			onRetry(failures, err)
		}
		if err := sleepCtx(ctx, backoff(c.ReconnectDelay, failures)); err != nil {
			return Job{}, err
		}
	}
}

// retryable tells whether a failed stream read is worth another try: the
// server did not answer, or answered 5xx or 429.
func retryable(err error) bool {
	if err == nil {
		return true
	}
	if _, ok := errors.AsType[*UnreachableError](err); ok {
		return true
	}
	if ae, ok := errors.AsType[*APIError](err); ok {
		return ae.Status >= 500 || ae.Status == http.StatusTooManyRequests
	}
	return false
}

// backoff is the wait before reconnect attempt n (from 1): base, doubled
// each time, at most 5s.
func backoff(base time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < 5*time.Second; i++ {
		d *= 2
	}
	return min(d, 5*time.Second)
}

// sleepCtx waits d or until ctx is done (ctx's error then).
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
