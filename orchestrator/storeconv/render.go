package storeconv

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Registry is where converted bundles are published unless their author
// says otherwise.
const Registry = "ghcr.io/websoft9/stackhub"

// ComposeFile is the compose file's name in a converted bundle.
const ComposeFile = "docker-compose.yml"

// render writes the bundle's files.
func (d *draft) render() (map[string][]byte, error) {
	files := map[string][]byte{}
	var cb bytes.Buffer
	fmt.Fprintf(&cb, "# %s, converted from %s's %s by stackhub catalog convert.\n# Every variable comes from the websoft9 step's env.\n", d.titleEn(), d.store, d.id)
	enc := yaml.NewEncoder(&cb)
	enc.SetIndent(2)
	if err := enc.Encode(d.project); err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	files[ComposeFile] = cb.Bytes()
	icon := ""
	if len(d.icon) > 0 && d.iconExt != "" {
		icon = "icon." + d.iconExt
		files[icon] = d.icon
	}
	root := d.manifest(icon)
	var pb bytes.Buffer
	fmt.Fprintf(&pb, "# %s, converted from %s's %s (%s) by stackhub catalog convert: review it before publishing.\n", d.titleEn(), d.store, d.id, d.dir)
	enc = yaml.NewEncoder(&pb)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("porter.yaml: %w", err)
	}
	files["porter.yaml"] = pb.Bytes()
	return files, nil
}

func (d *draft) titleEn() string {
	if t := d.title["en"]; t != "" {
		return t
	}
	return d.name
}

// node builders: ordered mappings for a readable porter.yaml.
func m(kv ...any) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for i := 0; i+1 < len(kv); i += 2 {
		v := val(kv[i+1])
		if v == nil {
			continue
		}
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: kv[i].(string)}, v)
	}
	return n
}

func seq(items ...any) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode}
	for _, it := range items {
		if v := val(it); v != nil {
			n.Content = append(n.Content, v)
		}
	}
	return n
}

func flow(items ...string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, it := range items {
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: it})
	}
	return n
}

// val makes a node of v; nil, "" and empty lists are left out.
func val(v any) *yaml.Node {
	switch t := v.(type) {
	case nil:
		return nil
	case *yaml.Node:
		if t == nil || (t.Kind == yaml.MappingNode || t.Kind == yaml.SequenceNode) && len(t.Content) == 0 {
			return nil
		}
		return t
	case string:
		if t == "" {
			return nil
		}
		n := &yaml.Node{}
		_ = n.Encode(t)
		return n
	case keepStr:
		n := &yaml.Node{}
		_ = n.Encode(string(t))
		return n
	default:
		n := &yaml.Node{}
		_ = n.Encode(t)
		return n
	}
}

// keepStr is a string written even when empty.
type keepStr string

func (d *draft) manifest(icon string) *yaml.Node {
	sortedParams(d.params)
	images := m()
	for _, img := range d.images {
		images.Content = append(images.Content, val(img.alias), m("description", img.alias+" of "+d.titleEn(),
			"repository", img.repository, "tag", img.tag, "digest", img.digest))
	}
	params := seq()
	var passEnv []string
	var generate []string
	for _, p := range d.params {
		if p.port {
			params.Content = append(params.Content, m("name", p.name, "description", p.desc, "type", "integer", "minimum", p.min, "maximum", p.max))
			if p.name == "port" {
				params.Content = append(params.Content, m("name", "web_address",
					"description", "Host address the web port is published on (StackHub sets 127.0.0.1 while its gateway serves a domain of the app)",
					"type", "string", "default", "0.0.0.0", "enum", flow("0.0.0.0", "127.0.0.1"), "applyTo", flow("install", "upgrade")))
			}
			continue
		}
		node := m("name", p.name, "description", p.desc, "type", p.typ)
		if p.generate {
			node.Content = append(node.Content, val("sensitive"), val(true))
			generate = append(generate, p.name)
		} else {
			if p.typ == "string" {
				node.Content = append(node.Content, val("default"), val(keepStr(p.def)))
			} else if p.def != "" {
				node.Content = append(node.Content, val("default"), &yaml.Node{Kind: yaml.ScalarNode, Value: p.def})
			}
			if p.sensitive {
				node.Content = append(node.Content, val("sensitive"), val(true))
			}
			if len(p.enum) > 0 {
				node.Content = append(node.Content, val("enum"), flow(p.enum...))
			}
			if p.pattern != "" {
				node.Content = append(node.Content, val("pattern"), val(p.pattern))
			}
		}
		node.Content = append(node.Content, val("applyTo"), flow("install", "upgrade"))
		params.Content = append(params.Content, node)
		passEnv = append(passEnv, p.env)
	}
	params.Content = append(params.Content, m("name", "purge", "description", "Remove the app's volumes on uninstall",
		"type", "boolean", "default", false, "applyTo", flow("uninstall")))

	outputs := seq(m("name", "containerName", "description", "The main container", "type", "string", "applyTo", flow("install", "upgrade")))
	stepOutputs := seq(m("name", "containerName", "container", d.main))
	if d.param("port") != nil {
		outputs.Content = append(outputs.Content, m("name", "port", "description", "Host port of the web interface", "type", "string", "applyTo", flow("install", "upgrade")))
		stepOutputs.Content = append(stepOutputs.Content, m("name", "port", "env", "WEB_PORT"))
	}
	for _, p := range d.params {
		if p.generate {
			outputs.Content = append(outputs.Content, m("name", p.name, "description", p.desc, "type", "string", "sensitive", true, "applyTo", flow("install")))
			stepOutputs.Content = append(stepOutputs.Content, m("name", p.name, "env", p.env))
		}
	}

	env := m()
	for _, img := range d.images {
		ref := "${ bundle.images." + img.alias + ".repository }"
		if img.digest != "" {
			ref += "@${ bundle.images." + img.alias + ".digest }"
		} else {
			ref += ":${ bundle.images." + img.alias + ".tag }"
		}
		env.Content = append(env.Content, val(img.env), val(ref))
	}
	for _, p := range d.params {
		if p.port {
			env.Content = append(env.Content, val(p.env), val("${ bundle.parameters."+p.name+" }"))
			if p.name == "port" {
				env.Content = append(env.Content, val("WEB_ADDRESS"), val("${ bundle.parameters.web_address }"))
			}
		}
	}
	step := func(desc string, full bool) *yaml.Node {
		s := m("description", desc, "app", "${ installation.name }")
		if full {
			s.Content = append(s.Content, m("compose", ComposeFile, "main", d.main).Content...)
			s.Content = append(s.Content, val("env"), env)
			if len(passEnv) > 0 {
				s.Content = append(s.Content, val("passEnv"), flow(passEnv...))
			}
			s.Content = append(s.Content, m("wait", "300s").Content...)
			s.Content = append(s.Content, val("outputs"), stepOutputs)
		}
		return seq(m("websoft9", s))
	}
	uninstall := seq(m("websoft9", m("description", "Remove "+d.titleEn(), "app", "${ installation.name }", "purge", "${ bundle.parameters.purge }")))

	meta := m(
		"title", d.titleEn(),
		"description", sentence(d.desc["en"], d.titleEn()),
		"category", d.category,
		"tags", flow(d.tags...),
		"icon", icon,
		"homepage", d.homepage,
		"screenshots", flow(d.screenshots...),
		"source", m("store", string(d.store), "id", d.id, "version", d.version),
	)
	if d.param("port") != nil {
		meta.Content = append(meta.Content, val("web"), m("port", "port", "address", "web_address"))
	}
	if d.login != (loginHint{}) {
		meta.Content = append(meta.Content, val("login"), m("path", d.login.path, "user", d.login.user, "password", d.login.password))
	}
	if d.title["zh"] != "" || d.desc["zh"] != "" {
		meta.Content = append(meta.Content, val("i18n"), m("zh", m("title", d.title["zh"], "description", d.desc["zh"])))
	}
	if perms := d.permissions(); len(perms) > 0 {
		meta.Content = append(meta.Content, val("permissions"), flow(perms...))
	}
	meta.Content = append(meta.Content, val("generate"), flow(generate...))

	doc := m(
		"schemaType", "Bundle",
		"schemaVersion", "1.0.1",
		"name", d.name,
		"version", semver(d.version),
		"description", oneLine(sentence(d.desc["en"], d.titleEn())),
		"registry", Registry,
		"mixins", seq("websoft9"),
		"required", seq("docker"),
		"images", images,
		"parameters", params,
		"outputs", outputs,
		"install", step("Start "+d.titleEn(), true),
		"upgrade", step("Upgrade "+d.titleEn(), true),
		"uninstall", uninstall,
		"customActions", m(
			"start", m("description", "Start the app's containers", "modifies", true),
			"stop", m("description", "Stop the app's containers", "modifies", true),
			"restart", m("description", "Restart the app's containers", "modifies", true)),
		"start", seq(m("websoft9", m("description", "Start "+d.titleEn(), "app", "${ installation.name }", "wait", "300s"))),
		"stop", seq(m("websoft9", m("description", "Stop "+d.titleEn(), "app", "${ installation.name }"))),
		"restart", seq(m("websoft9", m("description", "Restart "+d.titleEn(), "app", "${ installation.name }"))),
		"custom", m("sh.websoft9", meta),
	)
	return doc
}

// sentence is text's first paragraph as a sentence, or a plain one.
func sentence(text, title string) string {
	text = strings.TrimSpace(text)
	if i := strings.Index(text, "\n\n"); i > 0 {
		text = text[:i]
	}
	text = oneLine(text)
	if text == "" {
		text = title + ", a self-hosted app"
	}
	if len(text) > 300 {
		text = strings.TrimSpace(text[:297]) + "…"
	}
	if !strings.HasSuffix(text, ".") {
		text += "."
	}
	return text
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// sortedParams orders parameters: ports, then settings, then secrets.
func sortedParams(ps []*param) {
	rank := func(p *param) int {
		switch {
		case p.name == "port":
			return 0
		case p.port:
			return 1
		case p.generate:
			return 3
		}
		return 2
	}
	sort.SliceStable(ps, func(i, j int) bool { return rank(ps[i]) < rank(ps[j]) })
}
