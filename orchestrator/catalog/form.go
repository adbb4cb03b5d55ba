package catalog

import (
	"errors"
	"fmt"
	"regexp"
	"slices"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/porter-mixin/manifest"
)

// groupID is what a form group's ID looks like.
var groupID = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// readForm reads custom["sh.websoft9"].form, the install form's groups in
// order:
//
//	form:
//	  - group: site
//	    label: Site
//	    fields: [url, language, time_zone]
//	  - group: mail
//	    label: Outgoing mail
//	    advanced: true
//	    fields: [smtp_host, smtp_port]
//
// A field must be a parameter a request may set (not purge, not Porter's
// own) and appear in one group only; an unknown key is refused, since a
// typo would otherwise misplace a field silently. Parameters it does not
// name are the console's folded "advanced" fields.
func readForm(app *orchestrator.App, m *manifest.Manifest, v any) error {
	if v == nil {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		return errors.New(`custom["sh.websoft9"].form must be a list of groups ({group, label, fields, advanced})`)
	}
	placed := map[string]string{}
	for i, raw := range list {
		g, ok := raw.(map[string]any)
		if !ok {
			return fmt.Errorf(`custom["sh.websoft9"].form[%d] must be {group, label, fields, advanced}`, i)
		}
		var fg orchestrator.FormGroup
		for k, val := range g {
			switch k {
			case "group", "label":
				s, ok := val.(string)
				if !ok {
					return fmt.Errorf(`custom["sh.websoft9"].form[%d].%s must be a string`, i, k)
				}
				if k == "group" {
					fg.ID = s
				} else {
					fg.Label = s
				}
			case "advanced":
				b, ok := val.(bool)
				if !ok {
					return fmt.Errorf(`custom["sh.websoft9"].form[%d].advanced must be true or false`, i)
				}
				fg.Advanced = b
			case "fields":
				names, ok := val.([]any)
				if !ok {
					return fmt.Errorf(`custom["sh.websoft9"].form[%d].fields must list parameter names`, i)
				}
				for _, n := range names {
					name, _ := n.(string)
					fg.Fields = append(fg.Fields, name)
				}
			default:
				return fmt.Errorf(`custom["sh.websoft9"].form[%d]: unknown key %q (group, label, fields, advanced)`, i, k)
			}
		}
		if !groupID.MatchString(fg.ID) {
			return fmt.Errorf(`custom["sh.websoft9"].form[%d].group %q must be a short lower-case ID (site, admin, mail)`, i, fg.ID)
		}
		if slices.ContainsFunc(app.Form, func(o orchestrator.FormGroup) bool { return o.ID == fg.ID }) {
			return fmt.Errorf(`custom["sh.websoft9"].form: group %q is given twice`, fg.ID)
		}
		if fg.Label == "" {
			fg.Label = fg.ID
		}
		if len(fg.Fields) == 0 {
			return fmt.Errorf(`custom["sh.websoft9"].form.%s names no fields`, fg.ID)
		}
		for _, name := range fg.Fields {
			if _, ok := m.Parameter(name); !ok {
				return fmt.Errorf(`custom["sh.websoft9"].form.%s: the bundle has no parameter %q`, fg.ID, name)
			}
			if !slices.Contains(app.Settable, name) && !slices.ContainsFunc(app.Ports, func(p orchestrator.PortParam) bool { return p.Name == name }) {
				return fmt.Errorf(`custom["sh.websoft9"].form.%s: %q is not a setting an install can be given`, fg.ID, name)
			}
			if other, ok := placed[name]; ok {
				return fmt.Errorf(`custom["sh.websoft9"].form.%s: %q is already in group %s`, fg.ID, name, other)
			}
			placed[name] = fg.ID
		}
		app.Form = append(app.Form, fg)
	}
	return nil
}
