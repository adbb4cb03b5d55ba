package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/websoft9/stackhub/orchestrator/storeconv"
)

// ConvertResult is the store converter's speed (issue 22): a checkout of
// each store made of copies of the converter's fixtures, 300 apps in all,
// converted and written.
type ConvertResult struct {
	Apps      int `json:"apps"`
	Converted int `json:"converted"`
	// Ms are the rounds' times, each every app converted and written.
	Ms     []Num `json:"ms"`
	Median Num   `json:"medianMs"`
	// Fixtures are, per store, the fixtures converted of those attempted.
	Fixtures map[string][2]int `json:"fixtures"`
}

const convertApps = 300

// benchConvert times `catalog convert` on 300 apps.
func (b *bench) benchConvert(ctx context.Context, res *Results) error {
	// The converter's fixtures, beside the catalog root in the repository.
	fixtures := filepath.Join(b.o.Bundles, "..", "orchestrator", "storeconv", "testdata")
	src, err := os.MkdirTemp(b.tmp, "stores-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(src)
	r := ConvertResult{Fixtures: map[string][2]int{}}
	type checkout struct {
		store storeconv.Store
		dir   string
	}
	var checkouts []checkout
	// Each store's fixtures once, for their figures and app counts.
	apps := map[storeconv.Store]int{}
	for _, st := range storeconv.Stores {
		results, err := storeconv.Convert(ctx, st, filepath.Join(fixtures, string(st)))
		if err != nil {
			return err
		}
		r.Fixtures[string(st)] = [2]int{storeconv.NewReport(results).Converted, len(results)}
		apps[st] = len(results)
	}
	// Copies of them, one checkout per store and copy, until there are
	// 300 apps.
	for copyN := 0; r.Apps < convertApps; copyN++ {
		for _, st := range storeconv.Stores {
			dst := filepath.Join(src, strconv.Itoa(copyN), string(st))
			if err := os.CopyFS(dst, os.DirFS(filepath.Join(fixtures, string(st)))); err != nil {
				return err
			}
			checkouts = append(checkouts, checkout{st, dst})
			r.Apps += apps[st]
		}
	}
	for round := range max(1, b.o.ReadRounds) {
		out, err := os.MkdirTemp(b.tmp, "converted-")
		if err != nil {
			return err
		}
		start := time.Now()
		converted := 0
		for i, c := range checkouts {
			results, err := storeconv.Convert(ctx, c.store, c.dir)
			if err != nil {
				return err
			}
			for _, x := range results {
				if !x.Converted {
					continue
				}
				if _, err := storeconv.Write(filepath.Join(out, strconv.Itoa(i)), x); err != nil {
					return err
				}
				converted++
			}
		}
		ms := Num(float64(time.Since(start).Microseconds()) / 1000)
		r.Ms, r.Converted = append(r.Ms, ms), converted
		b.logf("convert round %d: %d apps (%d converted) in %.0f ms", round+1, r.Apps, converted, float64(ms))
		_ = os.RemoveAll(out)
	}
	r.Median = spread(r.Ms).Median
	res.Convert = r
	return nil
}
