// Package portalloc proposes host ports for an install: for each requested
// port parameter, the lowest port of its range that is neither reserved in
// the ledger, nor busy on the host, nor already proposed for another
// parameter of the same install. It is pure: no I/O, no package state. The
// database's UNIQUE constraint, not this package, decides who gets a port.
package portalloc

import "fmt"

// Request asks for one port in [Min, Max].
type Request struct {
	Param string
	Min   int
	Max   int
}

// Taken describes the ports an assignment must avoid.
type Taken struct {
	// Reserved maps a port held in the ledger to the installation holding it.
	Reserved map[int]string
	// Busy holds ports bound by host listeners or published by containers.
	Busy map[int]bool
}

// RangeError is returned when a range has no free port.
type RangeError struct {
	Param              string
	Min, Max           int
	Reserved, HostBusy int
}

func (e *RangeError) Error() string {
	return fmt.Sprintf("no free port for %s in %d-%d (%d reserved by installed apps, %d in use on the host)",
		e.Param, e.Min, e.Max, e.Reserved, e.HostBusy)
}

// Assign returns one port per request, in request order. It returns a
// *RangeError for the first request whose range is exhausted, and a plain
// error for an invalid range.
func Assign(reqs []Request, taken Taken) ([]int, error) {
	out := make([]int, 0, len(reqs))
	chosen := map[int]bool{}
	for _, r := range reqs {
		if r.Min < 1 || r.Max > 65535 || r.Min > r.Max {
			return nil, fmt.Errorf("port %s: invalid range %d-%d", r.Param, r.Min, r.Max)
		}
		port, reserved, busy := 0, 0, 0
		for p := r.Min; p <= r.Max; p++ {
			switch {
			case taken.Reserved[p] != "":
				reserved++
			case taken.Busy[p]:
				busy++
			case chosen[p]:
			default:
				port = p
			}
			if port != 0 {
				break
			}
		}
		if port == 0 {
			return nil, &RangeError{Param: r.Param, Min: r.Min, Max: r.Max, Reserved: reserved, HostBusy: busy}
		}
		chosen[port] = true
		out = append(out, port)
	}
	return out, nil
}
