package portalloc

import (
	"errors"
	"math/rand/v2"
	"testing"
)

// TestAssignProperties checks Assign's answers on random ledgers against
// its contract, without a second allocator to compare with:
//   - a port given is in its range, neither reserved nor busy, given once;
//   - it is the lowest such port: every lower port of the range is
//     reserved, busy or given to an earlier request;
//   - a refusal names a request whose range has no such port left (the
//     requests before it are assigned alone to find which those are), and
//     counts its reserved and busy ports.
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
		blocked := func(p int, given map[int]bool) bool { return taken.Reserved[p] != "" || taken.Busy[p] || given[p] }

		got, err := Assign(reqs, taken)
		if err != nil {
			var re *RangeError
			if !errors.As(err, &re) {
				t.Fatalf("case %d: %v: %v is not a RangeError", i, reqs, err)
			}
			k := 0
			for k < len(reqs) && reqs[k].Param != re.Param {
				k++
			}
			if k == len(reqs) {
				t.Fatalf("case %d: the refusal names %s, no request of %v", i, re.Param, reqs)
			}
			before, err := Assign(reqs[:k], taken)
			if err != nil {
				t.Fatalf("case %d: %v refused at %s, but the requests before it alone fail: %v", i, reqs, re.Param, err)
			}
			given := map[int]bool{}
			for _, p := range before {
				given[p] = true
			}
			r := reqs[k]
			reserved, busy := 0, 0
			for p := r.Min; p <= r.Max; p++ {
				if !blocked(p, given) {
					t.Fatalf("case %d: %v refused at %s, but port %d is free", i, reqs, r.Param, p)
				}
				switch {
				case taken.Reserved[p] != "":
					reserved++
				case taken.Busy[p]:
					busy++
				}
			}
			if re.Min != r.Min || re.Max != r.Max || re.Reserved != reserved || re.HostBusy != busy {
				t.Fatalf("case %d: %+v, want range %d-%d, %d reserved, %d busy", i, re, r.Min, r.Max, reserved, busy)
			}
			refused++
			continue
		}
		if len(got) != len(reqs) {
			t.Fatalf("case %d: %d ports for %d requests", i, len(got), len(reqs))
		}
		given := map[int]bool{}
		for j, p := range got {
			r := reqs[j]
			if p < r.Min || p > r.Max {
				t.Fatalf("case %d: port %d outside %d-%d", i, p, r.Min, r.Max)
			}
			if blocked(p, given) {
				t.Fatalf("case %d: port %d is reserved, busy or given twice", i, p)
			}
			for q := r.Min; q < p; q++ {
				if !blocked(q, given) {
					t.Fatalf("case %d: %s got %d, but %d is free and lower", i, r.Param, p, q)
				}
			}
			given[p] = true
		}
	}
	// Both outcomes must be common, or the cases test little.
	if refused < cases/10 || refused > cases*9/10 {
		t.Fatalf("%d of %d cases refused: tune the generator", refused, cases)
	}
}
