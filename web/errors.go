package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/websoft9/stackhub/orchestrator"
)

// statusOf maps each domain code to one HTTP status.
var statusOf = map[string]int{
	orchestrator.EINVALID:      http.StatusBadRequest,
	orchestrator.EUNAUTHORIZED: http.StatusUnauthorized,
	orchestrator.EFORBIDDEN:    http.StatusForbidden,
	orchestrator.EPRECONDITION: http.StatusPreconditionFailed,
	orchestrator.ETOOMANY:      http.StatusTooManyRequests,
	orchestrator.EUNSUPPORTED:  http.StatusUnsupportedMediaType,
	orchestrator.EPARAMETERS:   http.StatusUnprocessableEntity,
	orchestrator.ENOTFOUND:     http.StatusNotFound,
	orchestrator.ECONFLICT:     http.StatusConflict,
	orchestrator.EUNAVAILABLE:  http.StatusServiceUnavailable,
	orchestrator.EINTERNAL:     http.StatusInternalServerError,
}

// handleError renders every error as the seed envelope with a fitting
// status, and logs it once, here.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	if c.Request().Context().Err() != nil && errors.Is(err, context.Canceled) {
		// The client went away (a page closed mid-request): no one to
		// answer, and nothing failed on our side.
		s.log().Info("request abandoned", "method", c.Request().Method, "path", c.Request().URL.Path)
		return
	}
	status, code, msg := http.StatusInternalServerError, orchestrator.EINTERNAL, "internal error"
	if he, ok := errors.AsType[*echo.HTTPError](err); ok {
		status = he.Code
		code = codeOfStatus(status)
		if m, ok := he.Message.(string); ok {
			msg = m
		} else {
			msg = http.StatusText(status)
		}
	} else {
		code = orchestrator.ErrorCode(err)
		status = statusOf[code]
		if status == 0 {
			status = http.StatusInternalServerError
		}
		msg = orchestrator.ErrorMessage(err)
	}
	if status >= 500 {
		s.log().Error("request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "status", status, "err", err)
	} else {
		s.log().Info("request refused", "method", c.Request().Method, "path", c.Request().URL.Path, "status", status, "reason", msg)
	}
	if status == http.StatusTooManyRequests {
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(orchestrator.LoginWindow.Seconds())))
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	fields := orchestrator.ErrorFields(err)
	if strings.HasPrefix(c.Request().URL.Path, "/api/") {
		_ = c.JSON(status, apiError{Error: code, Message: msg, Fields: fields})
		return
	}
	data := map[string]any{"error": code}
	if len(fields) > 0 {
		data["fields"] = fields
	}
	_ = c.JSON(status, envelope{Code: "0", Message: localize(c, code, msg), Data: data})
}

func codeOfStatus(status int) string {
	for code, s := range statusOf {
		if s == status {
			return code
		}
	}
	if status >= 500 {
		return orchestrator.EINTERNAL
	}
	return orchestrator.EINVALID
}
