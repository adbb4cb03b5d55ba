package web

import (
	"cmp"
	"context"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/web/wire"
)

// The catalog is listed a page at a time, filtered on the server, so that
// a list's cost follows the page, not the catalog: at 1,000 entries the
// whole list was a megabyte per request.
const (
	// defaultCatalogPage is a page when the client does not say.
	defaultCatalogPage = 50
	// maxCatalogPage is the largest page a client may ask for.
	maxCatalogPage = 200
	// maxCatalogSearch bounds a search text, in characters.
	maxCatalogSearch = 200
	// maxCatalogNames bounds the names one list may ask for.
	maxCatalogNames = 100
	// maxCachedPages bounds the rendered pages kept for one catalog: a
	// search is any text, so what is kept must not grow with them.
	maxCachedPages = 256
)

// catalogQuery selects a page of the catalog: the entries matching every
// filter given, in the catalog's order (title, then name), from Offset.
type catalogQuery struct {
	// Search holds words each entry must contain (case-insensitive) in its
	// name, title, description or category, in any language.
	Search   string
	Category string
	// Names keeps only these apps (the console's apps page asks for the
	// catalog entries of the installed apps).
	Names  []string
	Offset int
	Limit  int
}

var categoryKeyRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

// check refuses a query no page can answer, saying why.
func (q *catalogQuery) check() error {
	switch {
	case utf8.RuneCountInString(q.Search) > maxCatalogSearch:
		return orchestrator.Errorf(orchestrator.EINVALID, "the search text is longer than %d characters", maxCatalogSearch)
	case q.Category != "" && !categoryKeyRE.MatchString(q.Category):
		return orchestrator.Errorf(orchestrator.EINVALID, "category %q is not a category key (lower-case letters, digits and dashes)", q.Category)
	case len(q.Names) > maxCatalogNames:
		return orchestrator.Errorf(orchestrator.EINVALID, "at most %d names may be asked for at once", maxCatalogNames)
	case q.Offset < 0:
		return orchestrator.Errorf(orchestrator.EINVALID, "the offset must be 0 or more")
	case q.Limit < 1 || q.Limit > maxCatalogPage:
		return orchestrator.Errorf(orchestrator.EINVALID, "a page holds 1 to %d entries", maxCatalogPage)
	}
	for _, n := range q.Names {
		if !appNameRE.MatchString(n) {
			return orchestrator.Errorf(orchestrator.EINVALID, "%q is not an app name", n)
		}
	}
	return nil
}

var appNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// key is the query's cache key: equal for queries that select the same
// page.
func (q *catalogQuery) key() string {
	names := slices.Clone(q.Names)
	slices.Sort(names)
	names = slices.Compact(names)
	return strings.Join(strings.Fields(strings.ToLower(q.Search)), " ") + "\x00" + q.Category + "\x00" +
		strings.Join(names, ",") + "\x00" + strconv.Itoa(q.Offset) + "\x00" + strconv.Itoa(q.Limit)
}

// catalogIndex is the catalog at one stamp, in its order, with each
// entry's text a search looks in.
type catalogIndex struct {
	apps []orchestrator.App
	text []string
}

func newCatalogIndex(apps []orchestrator.App) *catalogIndex {
	apps = slices.Clone(apps)
	slices.SortStableFunc(apps, func(a, b orchestrator.App) int {
		return cmp.Or(strings.Compare(strings.ToLower(cmp.Or(a.Title, a.Name)), strings.ToLower(cmp.Or(b.Title, b.Name))),
			strings.Compare(a.Name, b.Name))
	})
	ix := &catalogIndex{apps: apps, text: make([]string, len(apps))}
	for i, a := range apps {
		words := []string{a.Name, a.Title, a.Description, a.Meta.Category}
		if c, ok := orchestrator.CategoryOf(a.Meta.Category); ok {
			words = append(words, c.En, c.Zh)
		}
		for _, t := range a.Texts {
			words = append(words, t.Title, t.Description)
		}
		ix.text[i] = strings.ToLower(strings.Join(words, "\n"))
	}
	return ix
}

// query returns the page q selects and how many entries match in all.
func (ix *catalogIndex) query(q *catalogQuery) (page []orchestrator.App, total int) {
	words := strings.Fields(strings.ToLower(q.Search))
	for i, a := range ix.apps {
		if q.Category != "" && a.Meta.Category != q.Category {
			continue
		}
		if len(q.Names) > 0 && !slices.Contains(q.Names, a.Name) {
			continue
		}
		if !containsAll(ix.text[i], words) {
			continue
		}
		if total >= q.Offset && len(page) < q.Limit {
			page = append(page, a)
		}
		total++
	}
	return page, total
}

func containsAll(text string, words []string) bool {
	for _, w := range words {
		if !strings.Contains(text, w) {
			return false
		}
	}
	return true
}

// catalogPages keeps the catalog's index and the pages rendered from it
// for one ListStamp: the first request at a newer stamp drops them, so a
// page is never served after the catalog changed.
type catalogPages struct {
	mu    sync.Mutex
	stamp orchestrator.ListStamp
	index *catalogIndex
	pages map[pageKey]renderedPage
}

type pageKey struct {
	query string
	// variant is the answer's shape: "api", or "seed-" and the language.
	variant string
}

type renderedPage struct {
	body  []byte
	total int
}

// serve returns the rendered page q selects in variant's shape, and how many entries match: kept from an earlier request at
// the engine's stamp now, or rendered with render from the catalog list
// reads.
func (p *catalogPages) serve(ctx context.Context, e AppReader, list func(context.Context) ([]orchestrator.App, error),
	q *catalogQuery, variant string, render func(page []orchestrator.App, total int) any) (renderedPage, error) {
	stamp, cacheable := e.ListStamp()
	key := pageKey{q.key(), variant}
	var ix *catalogIndex
	if cacheable {
		p.mu.Lock()
		if p.stamp == stamp && p.index != nil {
			ix = p.index
			if r, ok := p.pages[key]; ok {
				p.mu.Unlock()
				return r, nil
			}
		}
		p.mu.Unlock()
	}
	if ix == nil {
		apps, err := list(ctx)
		if err != nil {
			return renderedPage{}, err
		}
		ix = newCatalogIndex(apps)
	}
	page, total := ix.query(q)
	body, err := encodeJSON(render(page, total))
	if err != nil {
		return renderedPage{}, err
	}
	r := renderedPage{body: body, total: total}
	if cacheable {
		p.mu.Lock()
		if p.stamp != stamp || p.index == nil {
			p.stamp, p.index, p.pages = stamp, ix, map[pageKey]renderedPage{}
		}
		if p.index == ix && len(p.pages) < maxCachedPages {
			p.pages[key] = r
		}
		p.mu.Unlock()
	}
	return r, nil
}

// restCatalogQuery reads GET /api/v1/catalog's query string: q,
// category, name (repeated), offset and limit; any other key, or a key
// given twice where one is meant, is refused.
func restCatalogQuery(c echo.Context) (*catalogQuery, error) {
	q := &catalogQuery{Limit: defaultCatalogPage}
	for k, vs := range c.QueryParams() {
		if k != "name" && len(vs) != 1 {
			return nil, orchestrator.Errorf(orchestrator.EINVALID, "%s is given more than once", k)
		}
		var err error
		switch k {
		case "q":
			q.Search = vs[0]
		case "category":
			q.Category = vs[0]
		case "name":
			q.Names = vs
		case "offset":
			q.Offset, err = queryInt(k, vs[0])
		case "limit":
			q.Limit, err = queryInt(k, vs[0])
		default:
			return nil, orchestrator.Errorf(orchestrator.EINVALID, "unknown query parameter %q (accepted: q, category, name, offset, limit)", k)
		}
		if err != nil {
			return nil, err
		}
	}
	return q, q.check()
}

func queryInt(k, v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, orchestrator.Errorf(orchestrator.EINVALID, "%s must be a whole number, not %q", k, v)
	}
	return n, nil
}

// listCatalog answers a page of catalog summaries; X-Total-Count says how
// many entries match, and a Link header with rel="next" points at the
// next page while there is one.
func (s *Server) listCatalog(c echo.Context) error {
	q, err := restCatalogQuery(c)
	if err != nil {
		return err
	}
	r, err := s.catalogPages.serve(c.Request().Context(), s.Apps, s.Catalog.Catalog, q, "api",
		func(page []orchestrator.App, _ int) any { return toCatalogSummaries(page) })
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("X-Total-Count", strconv.Itoa(r.total))
	if next := q.Offset + q.Limit; next < r.total {
		v := c.QueryParams()
		v.Set("offset", strconv.Itoa(next))
		v.Set("limit", strconv.Itoa(q.Limit))
		h.Set("Link", "<"+(&url.URL{Path: c.Request().URL.Path, RawQuery: v.Encode()}).String()+`>; rel="next"`)
	}
	return jsonBody(c, r.body)
}

// appList is the seed's catalog list, a page at a time: search,
// category, page (from 1) and pageSize select it; total says how many
// entries match.
func (s *Server) appList(c echo.Context) error {
	in, err := bind(c)
	if err != nil {
		return err
	}
	page, size := 1, defaultCatalogPage
	if in.Page != nil {
		page = *in.Page
	}
	if in.PageSize != nil {
		size = *in.PageSize
	}
	if page < 1 {
		return orchestrator.Errorf(orchestrator.EINVALID, "page counts from 1")
	}
	q := &catalogQuery{Search: in.Search, Category: in.Category, Limit: size, Offset: math.MaxInt}
	if size >= 1 && page-1 <= math.MaxInt/size {
		q.Offset = (page - 1) * size
	}
	if err := q.check(); err != nil {
		return err
	}
	en := english(c)
	variant := "seed-zh"
	if en {
		variant = "seed-en"
	}
	r, err := s.catalogPages.serve(c.Request().Context(), s.Apps, s.Catalog.Catalog, q, variant,
		func(apps []orchestrator.App, total int) any {
			entries := make([]seedCatalogEntry, 0, len(apps))
			for _, a := range apps {
				e := seedCatalogEntry{CatalogSummary: toCatalogSummary(a), Ports: []catalogPort{}}
				for _, p := range a.Ports {
					e.Ports = append(e.Ports, catalogPort{Name: p.Name, Min: p.Min, Max: p.Max})
				}
				entries = append(entries, e)
			}
			msg := "应用列表查询成功"
			if en {
				msg = "catalog listed"
			}
			return seedCatalogPage{envelope: envelope{Code: "1", Message: msg, Data: entries},
				CatalogPage: wire.CatalogPage{Total: total, Page: page, PageSize: size}}
		})
	if err != nil {
		return err
	}
	return jsonBody(c, r.body)
}

// seedCatalogEntry is an entry of /appList: the summary and the ports
// the app needs.
type seedCatalogEntry struct {
	wire.CatalogSummary
	Ports []catalogPort `json:"ports"`
}

// seedCatalogPage is /appList's answer: the seed's envelope, and which
// page of how many entries its data is.
type seedCatalogPage struct {
	envelope
	wire.CatalogPage
}

func toCatalogSummaries(apps []orchestrator.App) []wire.CatalogSummary {
	out := make([]wire.CatalogSummary, 0, len(apps))
	for _, a := range apps {
		out = append(out, toCatalogSummary(a))
	}
	return out
}

func toCatalogSummary(a orchestrator.App) wire.CatalogSummary {
	out := wire.CatalogSummary{Name: a.Name, Title: a.Title, Version: a.Version, Description: a.Description,
		Category:     a.Meta.Category,
		Requirements: map[string]string{"cpu": a.Requirements.CPU, "memory": a.Requirements.Memory, "disk": a.Requirements.Disk},
		Generated:    nonNil(a.Generate), Source: a.Source}
	if a.Meta.Icon != "" {
		out.Icon = "/api/v1/catalog/" + a.Name + "/icon"
	}
	if o := a.Origin; o.Store != "" {
		out.Origin = &wire.CatalogOrigin{Store: o.Store, ID: o.ID, Version: o.Version}
	}
	for lang, tx := range a.Texts {
		if tx.Title == "" && tx.Description == "" {
			continue
		}
		if out.Texts == nil {
			out.Texts = map[string]wire.CatalogTexts{}
		}
		out.Texts[lang] = wire.CatalogTexts{Title: tx.Title, Description: tx.Description}
	}
	return out
}
