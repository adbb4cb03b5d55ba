package storeconv

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// read reads one app of store in dir.
func read(store Store, dir string) (*draft, error) {
	d := newDraft(store, dir)
	var err error
	switch store {
	case Websoft9:
		err = d.readWebsoft9()
	case CasaOS:
		err = d.readCasaOS()
	case Runtipi:
		err = d.readRuntipi()
	case Umbrel:
		err = d.readUmbrel()
	case Compose:
		err = d.readCompose()
	default:
		err = fmt.Errorf("unknown store %q", store)
	}
	if d.name == "" {
		d.name = bundleName(filepath.Base(dir))
	}
	if d.category == "" {
		d.category = "utilities"
		d.warn("category", "the store gives no category: utilities until a reviewer picks one")
	}
	return d, err
}

// loadYAML decodes a YAML file into a generic map.
func loadYAML(path string) (map[string]any, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, blocked(filepath.Base(path), "%v", err)
	}
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{{")) {
		return nil, blocked(filepath.Base(path), "the file is a text template, not YAML: the store renders it at install")
	}
	var out map[string]any
	if err := yaml.Unmarshal(raw, &out); err != nil {
		return nil, blocked(filepath.Base(path), "not YAML: %v", err)
	}
	if out == nil {
		return nil, blocked(filepath.Base(path), "the file is empty")
	}
	return normalizeYAML(out).(map[string]any), nil
}

// normalizeYAML makes every mapping map[string]any (YAML anchors and merge
// keys are already resolved by the decoder).
func normalizeYAML(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = normalizeYAML(e)
		}
		return t
	case map[any]any:
		out := map[string]any{}
		for k, e := range t {
			out[fmt.Sprint(k)] = normalizeYAML(e)
		}
		return out
	case []any:
		for i := range t {
			t[i] = normalizeYAML(t[i])
		}
	}
	return v
}

func str(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case nil:
		return ""
	default:
		return fmt.Sprint(t)
	}
}

// locale picks the English and Chinese texts of a locale map (en_US,
// zh_CN, …) or takes a plain string as English.
func locale(v any) map[string]string {
	out := map[string]string{}
	switch t := v.(type) {
	case string:
		out["en"] = t
	case map[string]any:
		for k, e := range t {
			s := strings.TrimSpace(str(e))
			if s == "" {
				continue
			}
			switch lang := strings.ToLower(strings.SplitN(strings.ReplaceAll(k, "-", "_"), "_", 2)[0]); lang {
			case "en":
				if k == "en_US" || out["en"] == "" {
					out["en"] = s
				}
			case "zh":
				if k == "zh_CN" || out["zh"] == "" {
					out["zh"] = s
				}
			}
		}
	}
	return out
}

// categoryMap maps the stores' categories (lower case) onto StackHub's.
var categoryMap = map[string]string{
	"media": "media", "productivity": "productivity", "home": "home-automation", "networking": "network",
	"network": "network", "ai": "ai", "finance": "finance", "social": "social", "developer": "developer",
	"development": "developer", "utilities": "utilities", "data": "database", "automation": "automation",
	"security": "security", "gaming": "games", "games": "games", "books": "education", "music": "media",
	"photography": "photos", "files": "files", "bitcoin": "finance", "crypto": "finance",
	"monitoring": "monitoring", "analytics": "analytics", "cms": "cms", "website": "cms",
	"e-commerce": "e-commerce", "ecommerce": "e-commerce", "education": "education", "database": "database",
	"communication": "communication", "chat": "communication", "photos": "photos", "others": "utilities",
}

func (d *draft) setCategory(cats ...string) {
	for _, c := range cats {
		c = strings.TrimSpace(c)
		if c == "" || strings.EqualFold(c, "featured") {
			continue
		}
		d.tags = append(d.tags, c)
		if d.category == "" {
			if ours, ok := categoryMap[strings.ToLower(c)]; ok {
				d.category = ours
			}
		}
	}
	if d.category == "" && len(d.tags) > 0 {
		d.category = "utilities"
		d.warn("category", "the store's category %q has no match here: utilities until a reviewer picks one", d.tags[0])
	}
}

// --- Websoft9 -------------------------------------------------------------

func (d *draft) readWebsoft9() error {
	var v struct {
		Name      string `json:"name"`
		Trademark string `json:"trademark"`
		Release   *bool  `json:"release"`
		ForkURL   string `json:"fork_url"`
		Edition   []struct {
			Dist    string `json:"dist"`
			Version []any  `json:"version"`
		} `json:"edition"`
	}
	raw, err := os.ReadFile(filepath.Join(d.dir, "variables.json"))
	if err != nil {
		return blocked("variables.json", "%v", err)
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return blocked("variables.json", "not JSON: %v", err)
	}
	d.id = v.Name
	d.name = bundleName(v.Name)
	d.title["en"] = v.Trademark
	d.homepage = httpsURL(v.ForkURL)
	if v.Release != nil && !*v.Release {
		return blocked("variables.json", "release is false: Websoft9 does not publish it (a template copy or a stub)")
	}
	if !fileExists(filepath.Join(d.dir, "docker-compose.yml")) {
		return blocked("docker-compose.yml", "no docker-compose.yml: not an app (Websoft9's runtime folder is a toolbox of compose files)")
	}
	env, order, err := readDotEnv(filepath.Join(d.dir, ".env"))
	if err != nil {
		return blocked(".env", "%v", err)
	}
	// The AppHub's own variables, as it rewrites them at install.
	d.vars["W9_ID"] = d.name
	d.vars["W9_APP_NAME"] = d.name
	d.vars["W9_NETWORK"] = "websoft9"
	d.vars["W9_DIST"] = "community"
	for _, k := range order {
		val := env[k]
		switch {
		case k == "W9_POWER_PASSWORD" || k == "W9_RCODE" || k == "W9_LOGIN_API_KEY":
			d.lazy(&param{name: strings.ToLower(strings.TrimPrefix(k, "W9_")), typ: "string", sensitive: true, generate: true,
				desc: "generated at install (Websoft9's " + k + ")"}, k)
		case strings.HasSuffix(k, "PORT_SET"):
			d.vars[k] = d.expand(val) // a host port: ports() makes it a parameter
		case strings.HasSuffix(k, "_SET"):
			name := strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(k, "W9_"), "_SET"))
			p := d.addParam(&param{name: paramName(name), typ: "string", def: d.expand(val), desc: "Websoft9's " + k})
			d.vars[k] = "${" + p.env + "}"
		case k == "W9_URL":
			d.lazy(&param{name: "app_url", typ: "string", def: "", desc: "The address people open the app at (HOST:PORT, or a domain once it has one)"}, k)
		case k == "W9_HTTP_PORT":
			d.webPort, _ = strconv.Atoi(d.expand(val))
			d.vars[k] = d.expand(val)
		case k == "W9_VERSION":
			d.version = d.expand(val)
			d.vars[k] = d.version
		case k == "W9_LOGIN_USER":
			d.login.user = d.expand(val)
			d.vars[k] = d.expand(val)
		case k == "W9_LOGIN_PASSWORD":
			if strings.Contains(val, "W9_POWER_PASSWORD") {
				d.login.password = "the generated power_password (the app's credentials)"
			} else {
				d.login.password = d.expand(val)
			}
			d.vars[k] = d.expand(val)
		case k == "W9_ADMIN_PATH":
			if p := d.expand(val); strings.HasPrefix(p, "/") {
				d.login.path = p
			}
			d.vars[k] = d.expand(val)
		case strings.HasPrefix(k, "W9_"):
			d.vars[k] = d.expand(val)
		}
	}
	// The app's own variables, as containers read them (env_file: .env).
	app := map[string]string{}
	for _, k := range order {
		if !strings.HasPrefix(k, "W9_") {
			app[k] = d.expand(env[k])
		}
	}
	d.envFiles[".env"] = app
	project, err := loadYAML(filepath.Join(d.dir, "docker-compose.yml"))
	if err != nil {
		return err
	}
	d.project = project
	d.setCategory()
	return nil
}

// expand substitutes the variables known so far in an .env value.
func (d *draft) expand(v string) string { return d.substituteQuiet(v) }

// readDotEnv reads KEY=VALUE lines in order (quotes removed).
func readDotEnv(path string) (map[string]string, []string, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return map[string]string{}, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	env := map[string]string{}
	var order []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
			v = v[1 : len(v)-1]
		}
		if _, seen := env[k]; !seen {
			order = append(order, k)
		}
		env[k] = v
	}
	return env, order, sc.Err()
}

// --- CasaOS ---------------------------------------------------------------

func (d *draft) readCasaOS() error {
	project, err := loadYAML(filepath.Join(d.dir, "docker-compose.yml"))
	if err != nil {
		return err
	}
	x, _ := project["x-casaos"].(map[string]any)
	if x == nil {
		return blocked("docker-compose.yml", "no x-casaos block: not a CasaOS app (try --from compose)")
	}
	d.id = str(x["id"])
	if d.id == "" {
		d.id = str(x["store_app_id"])
	}
	name := str(project["name"])
	if name == "" {
		name = filepath.Base(d.dir)
	}
	d.name = bundleName(name)
	d.title = locale(x["title"])
	d.desc = locale(x["description"])
	if t := locale(x["tagline"]); d.desc["en"] == "" {
		d.desc = t
	}
	d.main = str(x["main"])
	d.webHost, _ = strconv.Atoi(str(x["port_map"]))
	if idx := str(x["index"]); strings.HasPrefix(idx, "/") && idx != "/" {
		d.login.path = strings.SplitN(idx, "?", 2)[0]
	}
	d.homepage = httpsURL(str(x["website"]))
	if d.homepage == "" {
		d.homepage = httpsURL(str(x["repo"]))
	}
	d.version = str(x["version"])
	for _, s := range stringList(x["screenshot_link"]) {
		d.screenshots = append(d.screenshots, s)
	}
	d.setCategory(str(x["category"]))
	for _, icon := range []string{"icon.svg", "icon.png"} {
		if b, err := os.ReadFile(filepath.Join(d.dir, icon)); err == nil {
			d.icon, d.iconExt = b, sniffImage(b, icon)
			break
		}
	}
	if tips := locale(mapOf(x["tips"])["before_install"]); tips["en"] != "" {
		d.warn("x-casaos.tips", "install notes to carry into the description by hand: %s", oneLine(tips["en"]))
	}
	// What CasaOS-AppManagement sets for every app.
	d.vars["AppID"] = d.name
	d.vars["PUID"], d.vars["PGID"] = "1000", "1000"
	d.vars["DefaultUserName"] = "admin"
	d.lazy(&param{name: "time_zone", typ: "string", def: "UTC", desc: "Time zone of the app, an IANA name such as Europe/Berlin (CasaOS's TZ)"}, "TZ")
	d.lazy(&param{name: "default_password", typ: "string", sensitive: true, generate: true, desc: "generated at install (CasaOS's DefaultPassword, casaos everywhere)"}, "DefaultPassword")
	d.vars["WEBUI_PORT"] = "${WEB_PORT}"
	d.dataRoots = []string{"/DATA/AppData"}
	d.sharedRoots = []string{"/DATA/Media", "/DATA/Downloads", "/DATA/Gallery", "/DATA/Documents"}
	d.project = project
	d.strict = true
	return nil
}

func mapOf(v any) map[string]any {
	m, _ := v.(map[string]any)
	if m == nil {
		return map[string]any{}
	}
	return m
}

// --- Runtipi --------------------------------------------------------------

type tipiField struct {
	Type     string `json:"type"`
	Label    string `json:"label"`
	Env      string `json:"env_variable"`
	Hint     string `json:"hint"`
	Required bool   `json:"required"`
	Default  any    `json:"default"`
	Min      *int   `json:"min"`
	Max      *int   `json:"max"`
	Regex    string `json:"regex"`
	Options  []struct {
		Label string `json:"label"`
		Value any    `json:"value"`
	} `json:"options"`
}

func (d *draft) readRuntipi() error {
	var c struct {
		ID          string      `json:"id"`
		Name        string      `json:"name"`
		Port        int         `json:"port"`
		Categories  []string    `json:"categories"`
		ShortDesc   string      `json:"short_desc"`
		Description string      `json:"description"`
		Website     string      `json:"website"`
		Source      string      `json:"source"`
		Version     string      `json:"version"`
		Deprecated  bool        `json:"deprecated"`
		NoGUI       bool        `json:"no_gui"`
		Fields      []tipiField `json:"form_fields"`
	}
	raw, err := os.ReadFile(filepath.Join(d.dir, "config.json"))
	if err != nil {
		return blocked("config.json", "%v", err)
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return blocked("config.json", "not JSON: %v", err)
	}
	d.id, d.name = c.ID, bundleName(c.ID)
	d.title["en"] = c.Name
	d.desc["en"] = c.ShortDesc
	if md, err := os.ReadFile(filepath.Join(d.dir, "metadata", "description.md")); err == nil && d.desc["en"] == "" {
		d.desc["en"] = string(md)
	}
	d.homepage = httpsURL(c.Website)
	if d.homepage == "" {
		d.homepage = httpsURL(c.Source)
	}
	d.version = c.Version
	d.webHost = c.Port
	d.setCategory(c.Categories...)
	if b, err := os.ReadFile(filepath.Join(d.dir, "metadata", "logo.jpg")); err == nil {
		d.icon, d.iconExt = b, sniffImage(b, "logo.jpg")
	}
	if c.Deprecated {
		d.warn("config.json", "deprecated in Runtipi's store")
	}
	// What Runtipi's runtime writes into every app's env file.
	d.vars["APP_ID"], d.vars["APP_NAME"] = d.name, d.name
	d.vars["APP_DATA_DIR"] = "/runtipi/app-data/" + d.name
	d.vars["ROOT_FOLDER_HOST"] = "/runtipi"
	d.vars["APP_PORT"] = "${WEB_PORT}"
	d.vars["APP_PROTOCOL"] = "http"
	d.lazy(&param{name: "app_domain", typ: "string", def: "localhost", desc: "The host name people open the app at (Runtipi's APP_DOMAIN)"}, "APP_DOMAIN", "APP_HOST", "LOCAL_DOMAIN", "DOMAIN")
	d.lazy(&param{name: "time_zone", typ: "string", def: "UTC", desc: "Time zone of the app, an IANA name such as Europe/Berlin"}, "TZ")
	d.unknownVars["INTERNAL_IP"] = "the host's LAN address"
	d.unknownVars["DNS_IP"] = "the address of Runtipi's DNS"
	d.dataRoots = []string{"/runtipi/app-data/" + d.name + "/data", "/runtipi/app-data/" + d.name}
	d.sharedRoots = []string{"/runtipi/media"}
	d.foreignRoots = []string{"/runtipi/app-data/", "/runtipi"}
	for _, f := range c.Fields {
		d.tipiField(f)
	}
	// The compose shape: the dynamic JSON, else the x-runtipi YAML; the
	// legacy YAML (hand-written Traefik labels) never.
	if fileExists(filepath.Join(d.dir, "docker-compose.json")) {
		if err := d.readTipiJSON(filepath.Join(d.dir, "docker-compose.json")); err != nil {
			return err
		}
	} else {
		project, err := loadYAML(filepath.Join(d.dir, "docker-compose.yml"))
		if err != nil {
			return err
		}
		if _, ok := project["x-runtipi"]; !ok {
			return blocked("docker-compose.yml", "only the legacy compose file (for Runtipi before dynamic compose): no docker-compose.json nor x-runtipi")
		}
		services, _ := project["services"].(map[string]any)
		for n, s := range services {
			svc, _ := s.(map[string]any)
			if x, ok := svc["x-runtipi"].(map[string]any); ok {
				if main, _ := x["is_main"].(bool); main {
					d.main = n
					d.webPort, _ = strconv.Atoi(str(x["internal_port"]))
				}
			}
		}
		d.project = project
		d.publishMain()
	}
	if c.NoGUI {
		d.webPort = -1
	}
	d.strict = true
	return nil
}

// tipiField makes a parameter of a Runtipi form field.
func (d *draft) tipiField(f tipiField) {
	if f.Env == "" {
		return
	}
	name := paramName(f.Env)
	desc := f.Label
	if f.Hint != "" {
		desc += " (" + f.Hint + ")"
	}
	var p *param
	switch f.Type {
	case "random":
		p = d.addParam(&param{name: name, typ: "string", sensitive: true, generate: true, desc: "generated at install: " + desc})
	case "boolean":
		p = d.addParam(&param{name: name, typ: "boolean", def: fmt.Sprint(f.Default == true), desc: desc})
	case "number":
		p = &param{name: name, typ: "integer", desc: desc}
		if f.Default != nil {
			p.def = str(f.Default)
		}
		p = d.addParam(p)
	default:
		p = &param{name: name, typ: "string", def: str(f.Default), sensitive: f.Type == "password", desc: desc}
		if f.Regex != "" {
			p.pattern = f.Regex
		}
		for _, o := range f.Options {
			p.enum = append(p.enum, str(o.Value))
		}
		p = d.addParam(p)
	}
	if p.env != f.Env {
		d.vars[f.Env] = "${" + p.env + "}"
	}
}

// readTipiJSON turns Runtipi's dynamic compose (services as a list) into
// a compose project.
func (d *draft) readTipiJSON(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return blocked("docker-compose.json", "%v", err)
	}
	var j struct {
		Services []map[string]any `json:"services"`
	}
	if err := json.Unmarshal(raw, &j); err != nil {
		return blocked("docker-compose.json", "not JSON: %v", err)
	}
	services := map[string]any{}
	for _, s := range j.Services {
		name := str(s["name"])
		if name == "" {
			return blocked("docker-compose.json", "a service without a name")
		}
		svc := map[string]any{"image": str(s["image"])}
		if main, _ := s["isMain"].(bool); main {
			d.main = name
			d.webPort = intOf(s["internalPort"])
		}
		switch env := s["environment"].(type) {
		case []any:
			m := map[string]any{}
			for _, e := range env {
				kv := mapOf(e)
				m[str(kv["key"])] = str(kv["value"])
			}
			svc["environment"] = m
		case map[string]any:
			svc["environment"] = env
		}
		var vols []any
		for _, v := range asList(s["volumes"]) {
			vm := mapOf(v)
			spec := str(vm["hostPath"]) + ":" + str(vm["containerPath"])
			if ro, _ := vm["readOnly"].(bool); ro {
				spec += ":ro"
			}
			vols = append(vols, spec)
		}
		if vols != nil {
			svc["volumes"] = vols
		}
		var ports []any
		for _, p := range asList(s["addPorts"]) {
			pm := mapOf(p)
			proto := "tcp"
			if udp, _ := pm["udp"].(bool); udp {
				proto = "udp"
			}
			ports = append(ports, fmt.Sprintf("%d:%d/%s", intOf(pm["hostPort"]), intOf(pm["containerPort"]), proto))
		}
		if ports != nil {
			svc["ports"] = ports
		}
		copyKeys(svc, s, map[string]string{"command": "command", "entrypoint": "entrypoint", "user": "user", "networkMode": "network_mode",
			"privileged": "privileged", "capAdd": "cap_add", "devices": "devices", "hostname": "hostname", "tty": "tty",
			"stdinOpen": "stdin_open", "securityOpt": "security_opt", "sysctls": "sysctls", "ulimits": "ulimits",
			"shmSize": "shm_size", "stopGracePeriod": "stop_grace_period", "stopSignal": "stop_signal", "workingDir": "working_dir", "pid": "pid"})
		if dep, ok := s["dependsOn"]; ok {
			svc["depends_on"] = dep
		}
		if hc := mapOf(s["healthCheck"]); len(hc) > 0 {
			h := map[string]any{}
			copyKeys(h, hc, map[string]string{"test": "test", "interval": "interval", "timeout": "timeout", "retries": "retries", "startPeriod": "start_period", "startInterval": "start_interval"})
			svc["healthcheck"] = h
		}
		if labels := mapOf(s["extraLabels"]); len(labels) > 0 {
			svc["labels"] = labels
		}
		services[name] = svc
	}
	d.project = map[string]any{"services": services}
	d.publishMain()
	return nil
}

// publishMain publishes the main service's internal port, as Runtipi's
// runtime does with ${APP_PORT}.
func (d *draft) publishMain() {
	if d.webPort <= 0 {
		return
	}
	svc := mapOf(mapOf(d.project["services"])[d.main])
	if nm, _ := svc["network_mode"].(string); nm == "host" {
		return // it listens on the host's own ports
	}
	ports, _ := svc["ports"].([]any)
	svc["ports"] = append([]any{fmt.Sprintf("%d:%d", d.webHost, d.webPort)}, ports...)
}

func copyKeys(dst, src map[string]any, keys map[string]string) {
	for from, to := range keys {
		if v, ok := src[from]; ok {
			dst[to] = v
		}
	}
}

func asList(v any) []any { l, _ := v.([]any); return l }

func intOf(v any) int {
	switch t := v.(type) {
	case float64:
		return int(t)
	case int:
		return t
	case string:
		n, _ := strconv.Atoi(t)
		return n
	}
	return 0
}

// --- Umbrel ---------------------------------------------------------------

func (d *draft) readUmbrel() error {
	man, err := loadYAML(filepath.Join(d.dir, "umbrel-app.yml"))
	if err != nil {
		return err
	}
	d.id = str(man["id"])
	if d.id == "" {
		d.id = filepath.Base(d.dir)
	}
	d.name = bundleName(d.id)
	d.title["en"] = str(man["name"])
	d.desc["en"] = str(man["tagline"])
	if d.desc["en"] == "" {
		d.desc["en"] = str(man["description"])
	}
	d.version = str(man["version"])
	d.homepage = httpsURL(str(man["website"]))
	d.webHost = intOf(man["port"])
	d.setCategory(str(man["category"]))
	d.iconURL = "https://getumbrel.github.io/umbrel-apps-gallery/" + d.id + "/icon.svg"
	for _, g := range stringList(man["gallery"]) {
		d.screenshots = append(d.screenshots, "https://getumbrel.github.io/umbrel-apps-gallery/"+d.id+"/"+g)
	}
	if p := str(man["path"]); strings.HasPrefix(p, "/") && p != "/" {
		d.login.path = p
	}
	d.login.user = str(man["defaultUsername"])
	if det, _ := man["deterministicPassword"].(bool); det {
		d.login.password = "the generated app_password (the app's credentials)"
	} else if pw := str(man["defaultPassword"]); pw != "" {
		d.login.password = pw
	}
	if dis, _ := man["disabled"].(bool); dis {
		d.warn("umbrel-app.yml", "disabled in Umbrel's store")
	}
	if deps := stringList(man["dependencies"]); len(deps) > 0 {
		return blocked("umbrel-app.yml", "depends on the app(s) %s and the variables their exports.sh give: install them as bundles first and wire them by hand", strings.Join(deps, ", "))
	}
	for _, perm := range stringList(man["permissions"]) {
		switch perm {
		case "GPU":
			d.permit("devices:/dev/dri", "Umbrel's GPU permission: the host's GPU")
		case "STORAGE_DOWNLOADS":
			d.warn("umbrel-app.yml", "Umbrel's shared Downloads folder becomes a volume of the app")
		}
	}
	if fileExists(filepath.Join(d.dir, "exports.sh")) {
		d.warn("exports.sh", "a shell script Umbrel's runtime sources (variables for other apps): not run here")
	}
	if entries, err := os.ReadDir(filepath.Join(d.dir, "hooks")); err == nil && len(entries) > 0 {
		var hooks []string
		for _, e := range entries {
			hooks = append(hooks, e.Name())
		}
		d.warn("hooks", "hooks Umbrel's runtime runs (%s) are not run here: check the app works without them", strings.Join(hooks, ", "))
	}
	if tmpl, _ := filepath.Glob(filepath.Join(d.dir, "*.template")); len(tmpl) > 0 {
		d.block(filepath.Base(tmpl[0]), "a template Umbrel's runtime renders into the app's data at install: a bundle cannot put files there yet")
	}
	project, err := loadYAML(filepath.Join(d.dir, "docker-compose.yml"))
	if err != nil {
		return err
	}
	services := mapOf(project["services"])
	// Services address each other as <id>_<service>_1.
	for n := range services {
		d.oldNames[d.id+"_"+n+"_1"] = n
	}
	if proxy, ok := services["app_proxy"].(map[string]any); ok {
		env := envMap(proxy["environment"])
		host := d.rename(str(env["APP_HOST"]))
		d.main = host
		d.webPort, _ = strconv.Atoi(str(env["APP_PORT"]))
		if v, ok := env["PROXY_AUTH_ADD"]; !ok || v != "false" {
			d.warn("app_proxy", "Umbrel puts its login in front of the app; StackHub serves the app as it is")
		}
		delete(services, "app_proxy")
		d.project = project
		d.publishMain()
	} else {
		d.project = project
	}
	// What umbreld sets for every app.
	d.vars["APP_ID"] = d.name
	d.vars["APP_VERSION"] = d.version
	d.vars["APP_DATA_DIR"] = "/umbrel/app-data/" + d.name
	d.vars["UMBREL_ROOT"] = "/umbrel"
	d.vars["APP_PROXY_PORT"] = "${WEB_PORT}"
	d.vars["APP_HIDDEN_SERVICE"] = "notor.invalid"
	d.lazy(&param{name: "app_seed", typ: "string", sensitive: true, generate: true, desc: "generated at install (Umbrel's APP_SEED)"}, "APP_SEED")
	d.lazy(&param{name: "app_password", typ: "string", sensitive: true, generate: true, desc: "generated at install (Umbrel's APP_PASSWORD)"}, "APP_PASSWORD")
	d.lazy(&param{name: "app_domain", typ: "string", def: "localhost", desc: "The host name people open the app at (Umbrel's device domain)"}, "APP_DOMAIN", "DEVICE_DOMAIN_NAME", "DEVICE_HOSTNAME", "APP_PROXY_HOSTNAME")
	for _, v := range []string{"TOR_PROXY_IP", "TOR_PROXY_PORT", "TOR_DATA_DIR"} {
		d.unknownVars[v] = "Umbrel's Tor proxy"
	}
	d.unknownVars["NETWORK_IP"] = "Umbrel's app network"
	d.dataRoots = []string{"/umbrel/app-data/" + d.name + "/data", "/umbrel/app-data/" + d.name}
	d.sharedRoots = []string{"/umbrel/data/storage/downloads"}
	d.foreignRoots = []string{"/umbrel"}
	d.strict = true
	return nil
}

// --- Plain compose ----------------------------------------------------------

func (d *draft) readCompose() error {
	var file string
	for _, name := range []string{"docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml"} {
		if fileExists(filepath.Join(d.dir, name)) {
			file = name
			break
		}
	}
	project, err := loadYAML(filepath.Join(d.dir, file))
	if err != nil {
		return err
	}
	name := str(project["name"])
	if name == "" {
		name = filepath.Base(d.dir)
	}
	d.id, d.name = name, bundleName(name)
	d.title["en"] = name
	d.project = project
	env, _, err := readDotEnv(filepath.Join(d.dir, ".env"))
	if err != nil {
		return blocked(".env", "%v", err)
	}
	// Every ${VAR} the file uses becomes a parameter: its default from
	// ${VAR:-default} or the .env file; a secret one is generated.
	seen := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case string:
			for _, m := range composeVar.FindAllStringSubmatch(t, -1) {
				name, def := m[1], strings.TrimPrefix(strings.TrimPrefix(m[2], ":"), "-")
				if seen[name] {
					continue
				}
				seen[name] = true
				if v, ok := env[name]; ok {
					def = v
				}
				d.composeVar(name, def, strings.HasPrefix(m[2], ":?") || strings.HasPrefix(m[2], "?"))
			}
		case []any:
			for _, e := range t {
				walk(e)
			}
		case map[string]any:
			for _, k := range sortedKeys(t) {
				walk(t[k])
			}
		}
	}
	walk(project["services"])
	return nil
}

var composeVar = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)((?::?[-?])[^}]*)?\}`)

func (d *draft) composeVar(name, def string, required bool) {
	if portVar.MatchString(name) {
		// A host port: ports() turns the mapping into a parameter.
		if def != "" {
			d.vars[name] = def
		}
		return
	}
	if secretKey.MatchString(name) && (def == "" || required) {
		p := d.secretParam(name, "generated at install ("+name+")")
		if p.env != name {
			d.vars[name] = "${" + p.env + "}"
		}
		return
	}
	p := d.addParam(&param{name: paramName(name), typ: "string", def: def, desc: name + " of the compose file"})
	if p.env != name {
		d.vars[name] = "${" + p.env + "}"
	}
}

var portVar = regexp.MustCompile(`(?i)port$`)

// httpsURL keeps a web address, preferring https.
func httpsURL(u string) string {
	u = strings.TrimSpace(u)
	if strings.HasPrefix(u, "http://") {
		u = "https://" + strings.TrimPrefix(u, "http://")
	}
	if !strings.HasPrefix(u, "https://") {
		return ""
	}
	return u
}

// sniffImage names an image's type by its bytes (Runtipi's logo.jpg is
// sometimes a PNG or WebP).
func sniffImage(b []byte, name string) string {
	if bytes.Contains(b[:min(len(b), 512)], []byte("<svg")) {
		return "svg"
	}
	switch http.DetectContentType(b) {
	case "image/png":
		return "png"
	case "image/jpeg":
		return "jpg"
	case "image/webp":
		return "webp"
	case "image/gif":
		return "gif"
	}
	return strings.TrimPrefix(filepath.Ext(name), ".")
}
