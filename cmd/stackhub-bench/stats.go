package main

import (
	"math"
	"slices"
	"strconv"
	"time"
)

// Num is a measured number; NaN means not measured and is written to
// JSON as null.
type Num float64

// MarshalJSON implements json.Marshaler.
func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'f', -1, 64), nil
}

// missing is a Num not measured.
var missing = Num(math.NaN())

func (n Num) ok() bool { return !math.IsNaN(float64(n)) }

// Spread is the median, minimum and maximum of a series.
type Spread struct {
	N      int `json:"n"`
	Median Num `json:"median"`
	Min    Num `json:"min"`
	Max    Num `json:"max"`
}

// spread summarises xs (the median of an even count is the mean of the
// two middle values). NaN values are left out.
func spread(xs []Num) Spread {
	v := make([]Num, 0, len(xs))
	for _, x := range xs {
		if x.ok() {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return Spread{Median: missing, Min: missing, Max: missing}
	}
	slices.Sort(v)
	med := v[len(v)/2]
	if len(v)%2 == 0 {
		med = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return Spread{N: len(v), Median: med, Min: v[0], Max: v[len(v)-1]}
}

// ms is d in milliseconds.
func ms(d time.Duration) Num { return Num(float64(d) / float64(time.Millisecond)) }

// ratio is a/b, missing when either is.
func ratio(a, b Num) Num {
	if !a.ok() || !b.ok() || a <= 0 || b <= 0 {
		return missing
	}
	return a / b
}

// percentile returns the p-th percentile (0–100) of sorted durations,
// nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
