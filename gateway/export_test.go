package gateway

import "time"

// SetClientTimeouts shortens g's limits on clients (tests), before Start.
func SetClientTimeouts(g *Gateway, header, idle time.Duration) {
	g.headerTimeout, g.clientIdle = header, idle
}
