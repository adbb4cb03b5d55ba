package web

import (
	"context"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/websoft9/stackhub/orchestrator"
)

// Bounds of the long answers (job event streams, followed logs): how many
// may be open at once, in all and per caller, and how long one lasts
// (a client reconnects after it: job events resume with Last-Event-ID).
const (
	MaxStreams          = 64
	MaxStreamsPerCaller = 8
	StreamLifetime      = time.Hour
)

// streamGate counts the open streams, in all and by caller.
type streamGate struct {
	mu     sync.Mutex
	open   int
	byWho  map[string]int
	max    int // MaxStreams unless a test sets it
	maxWho int // MaxStreamsPerCaller unless a test sets it
}

// enter admits one more stream of who, or says why not (ETOOMANY); leave
// must be called when it ends.
func (g *streamGate) enter(who string) (leave func(), err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.byWho == nil {
		g.byWho = map[string]int{}
	}
	max, maxWho := g.max, g.maxWho
	if max == 0 {
		max, maxWho = MaxStreams, MaxStreamsPerCaller
	}
	if g.byWho[who] >= maxWho {
		return nil, orchestrator.Errorf(orchestrator.ETOOMANY, "you have %d streams open (logs or job events): close one first", maxWho)
	}
	if g.open >= max {
		return nil, orchestrator.Errorf(orchestrator.ETOOMANY, "the server has %d streams open (logs or job events): try again later", max)
	}
	g.open++
	g.byWho[who]++
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			defer g.mu.Unlock()
			g.open--
			if g.byWho[who]--; g.byWho[who] == 0 {
				delete(g.byWho, who)
			}
		})
	}, nil
}

// stream admits a stream for the request's caller and returns the
// context it runs under, ended after StreamLifetime, and the function to
// call when it ends.
func (s *Server) stream(c echo.Context) (context.Context, func(), error) {
	leave, err := s.streams.enter(whoName(c))
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), StreamLifetime)
	return ctx, func() { cancel(); leave() }, nil
}
