package portalloc

import (
	"errors"
	"math/rand/v2"
	"testing"
)

// TestAssignProperties checks Assign against its contract on random
// ledgers: every port it gives is in its range, neither reserved nor busy,
// given once, and the lowest such port left by the requests before it; it
// refuses exactly when a range has no such port left, and says why.
func TestAssignProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 2026))
	refused := 0
	const cases = 20000
	for i := range cases {
		base := 1 + rng.IntN(200)
		var reqs []Request
		for n := rng.IntN(4); n >= 0; n-- {
			lo := base + rng.IntN(30)
			reqs = append(reqs, Request{Param: "p" + string(rune('a'+n)), Min: lo, Max: lo + rng.IntN(12)})
		}
		taken := Taken{Reserved: map[int]string{}, Busy: map[int]bool{}}
		for p := base; p < base+45; p++ {
			switch rng.IntN(4) {
			case 0:
				taken.Reserved[p] = "other"
			case 1:
				taken.Busy[p] = true
			}
		}
		got, err := Assign(reqs, taken)

		// The model: request by request, the lowest port that is free.
		chosen := map[int]bool{}
		var want []int
		var wantErr *RangeError
		for _, r := range reqs {
			port, reserved, busy := 0, 0, 0
			for p := r.Min; p <= r.Max; p++ {
				switch {
				case taken.Reserved[p] != "":
					reserved++
				case taken.Busy[p]:
					busy++
				case !chosen[p] && port == 0:
					port = p
				}
			}
			if port == 0 {
				wantErr = &RangeError{Param: r.Param, Min: r.Min, Max: r.Max, Reserved: reserved, HostBusy: busy}
				break
			}
			chosen[port] = true
			want = append(want, port)
		}

		if wantErr != nil {
			var re *RangeError
			if !errors.As(err, &re) || *re != *wantErr {
				t.Fatalf("case %d: %v with %+v: got %v, %v; want %v", i, reqs, taken, got, err, wantErr)
			}
			refused++
			continue
		}
		if err != nil || len(got) != len(want) {
			t.Fatalf("case %d: %v with %+v: got %v, %v; want %v", i, reqs, taken, got, err, want)
		}
		seen := map[int]bool{}
		for j, p := range got {
			r := reqs[j]
			switch {
			case p != want[j]:
				t.Fatalf("case %d: %v: got %v, want %v (the lowest free port each)", i, reqs, got, want)
			case p < r.Min || p > r.Max:
				t.Fatalf("case %d: port %d outside %d-%d", i, p, r.Min, r.Max)
			case taken.Reserved[p] != "" || taken.Busy[p]:
				t.Fatalf("case %d: port %d is taken", i, p)
			case seen[p]:
				t.Fatalf("case %d: port %d given twice", i, p)
			}
			seen[p] = true
		}
	}
	// Both outcomes must be common, or the cases test little.
	if refused < cases/10 || refused > cases*9/10 {
		t.Fatalf("%d of %d cases refused: tune the generator", refused, cases)
	}
}
