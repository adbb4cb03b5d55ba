package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// newCatalogCmd is `stackhub catalog [NAME]`: the apps the server can
// install, or one of them in detail.
func newCatalogCmd(getenv env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "catalog [NAME]",
		Short: "List the apps the server can install, or show catalog app NAME",
		Long: "List the apps the server can install (every word of --search in a name, title, description or\n" +
			"category; --category a category key), or show catalog app NAME with its parameters.",
		Args: usageArgs(cobra.MaximumNArgs(1)),
	}
	var q CatalogQuery
	cmd.Flags().StringVarP(&q.Search, "search", "s", "", "only apps with every word of this text")
	cmd.Flags().StringVar(&q.Category, "category", "", "only apps of this category key (e.g. cms, media)")
	cmd.AddCommand(newCatalogConvertCmd())
	o := newRemoteOptions(cmd, getenv)
	cmd.AddCommand(newCatalogAddCmd(o))
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 1 && (q.Search != "" || q.Category != "") {
			return usageErrorf("--search and --category filter the list: give no NAME with them")
		}
		c, err := o.client()
		if err != nil {
			return err
		}
		if len(args) == 1 {
			app, err := c.CatalogApp(cmd.Context(), args[0])
			if err != nil {
				return fmt.Errorf("catalog %s: %w", args[0], err)
			}
			return o.render(cmd.OutOrStdout(), app, func(w io.Writer) error { return printCatalogApp(w, app) })
		}
		apps, err := c.Catalog(cmd.Context(), q)
		if err != nil {
			return fmt.Errorf("catalog: %w", err)
		}
		return o.render(cmd.OutOrStdout(), apps, func(w io.Writer) error { return printCatalog(w, apps) })
	}
	return cmd
}

func printCatalog(w io.Writer, apps []CatalogSummary) error {
	if len(apps) == 0 {
		_, err := fmt.Fprintln(w, "The catalog is empty.")
		return err
	}
	t := table(w)
	fmt.Fprintln(t, "NAME\tVERSION\tTITLE\tDESCRIPTION")
	for _, a := range apps {
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\n", a.Name, a.Version, a.Title, a.Description)
	}
	return t.Flush()
}

func printCatalogApp(w io.Writer, a CatalogApp) error {
	t := table(w)
	fmt.Fprintf(t, "Name:\t%s\n", a.Name)
	if a.Title != "" {
		fmt.Fprintf(t, "Title:\t%s\n", a.Title)
	}
	fmt.Fprintf(t, "Version:\t%s\n", a.Version)
	fmt.Fprintf(t, "Description:\t%s\n", a.Description)
	ports := make([]string, 0, len(a.Ports))
	for _, p := range a.Ports {
		ports = append(ports, fmt.Sprintf("%s %d-%d", p.Name, p.Min, p.Max))
	}
	fmt.Fprintf(t, "Ports:\t%s\n", strings.Join(ports, ", "))
	fmt.Fprintf(t, "Actions:\t%s\n", strings.Join(a.Actions, ", "))
	var reqs []string
	for _, k := range []string{"cpu", "memory", "disk"} {
		if v := a.Requirements[k]; v != "" {
			reqs = append(reqs, k+" "+v)
		}
	}
	fmt.Fprintf(t, "Requirements:\t%s\n", firstOf(strings.Join(reqs, ", "), "none"))
	if a.Source != "" {
		fmt.Fprintf(t, "Source:\t%s\n", a.Source)
	}
	if o := a.Origin; o != nil {
		from := fmt.Sprintf("%s (%s)", storeName(o.Store), o.ID)
		if o.Version != "" {
			from += " " + o.Version
		}
		fmt.Fprintf(t, "Converted from:\t%s\n", from)
	}
	return t.Flush()
}

// storeName is how people call a store the converter reads.
func storeName(store string) string {
	switch store {
	case "websoft9":
		return "Websoft9"
	case "casaos":
		return "CasaOS"
	case "runtipi":
		return "Runtipi"
	case "umbrel":
		return "Umbrel"
	case "compose":
		return "a compose project"
	}
	return store
}
