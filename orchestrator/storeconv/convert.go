package storeconv

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Port ranges StackHub chooses host ports in.
const (
	webMin, webMax     = 9001, 9999
	otherMin, otherMax = 10000, 19999
)

// convert normalizes the compose project: host ports, images, data and
// host access become parameters, volumes and permissions; the store's
// names and variables become StackHub's.
func (d *draft) convert() {
	services, _ := d.project["services"].(map[string]any)
	if len(services) == 0 {
		d.block("compose", "the compose file has no services")
		return
	}
	names := make([]string, 0, len(services))
	for n := range services {
		names = append(names, n)
	}
	sort.Strings(names)
	// Names the store's runtime gives containers, used as host names.
	for _, n := range names {
		svc, _ := services[n].(map[string]any)
		if svc == nil {
			d.block("services."+n, "the service is not a mapping")
			return
		}
		if cn, ok := svc["container_name"].(string); ok && cn != "" {
			d.oldNames[d.substituteQuiet(cn)] = n
		}
	}
	if d.main == "" || services[d.main] == nil {
		if d.main != "" {
			d.warn("main", "the main service %q is not in the compose file", d.main)
		}
		d.main = guessMain(names, services)
	}
	for _, n := range names {
		d.service(n, services[n].(map[string]any))
	}
	// The web port: the main service's declared one, else its first
	// published TCP port.
	if d.param("port") == nil {
		d.warn("ports", "no web port: the app gets no domain nor a link in the console")
	}
	top := map[string]any{"services": services}
	if len(d.volumes) > 0 {
		vols := map[string]any{}
		for v := range d.volumes {
			vols[v] = nil
		}
		top["volumes"] = vols
	}
	if nets, ok := d.project["networks"].(map[string]any); ok && len(nets) > 0 {
		d.warn("networks", "the store's networks (%s) are dropped: the app's services share the project's own network", strings.Join(sortedKeys(nets), ", "))
	}
	d.project = top
}

func guessMain(names []string, services map[string]any) string {
	for _, n := range names {
		if svc, _ := services[n].(map[string]any); svc != nil && svc["ports"] != nil {
			return n
		}
	}
	return names[0]
}

func (d *draft) service(name string, svc map[string]any) {
	where := "services." + name
	if _, ok := svc["build"]; ok {
		d.block(where, "builds its image from a Dockerfile (build:): a bundle runs published images only; publish the image and name it")
	}
	delete(svc, "container_name")
	delete(svc, "networks")
	for k := range svc {
		if strings.HasPrefix(k, "x-") {
			delete(svc, k)
		}
	}
	switch nm, _ := svc["network_mode"].(string); {
	case nm == "bridge":
		// Docker's default bridge has no service names: the project's
		// network instead.
		delete(svc, "network_mode")
	case nm == "host":
		d.permit("host-namespace:network_mode=host", name+" uses the host's network")
	case nm != "" && !strings.HasPrefix(nm, "service:"):
		d.block(where, "network_mode %q", nm)
	}
	for _, ns := range []string{"pid", "ipc", "uts", "userns_mode", "cgroup"} {
		if v, _ := svc[ns].(string); v == "host" {
			d.permit("host-namespace:"+ns+"=host", name+" shares the host's "+ns+" namespace")
		}
	}
	if p, _ := svc["privileged"].(bool); p {
		d.permit("privileged", name+" runs privileged")
	}
	for _, c := range stringList(svc["cap_add"]) {
		c = strings.TrimPrefix(strings.ToUpper(c), "CAP_")
		d.permit("cap-add:"+c, name+" adds the capability "+c)
	}
	for _, dev := range stringList(svc["devices"]) {
		host, _, _ := strings.Cut(dev, ":")
		d.permit("devices:"+host, name+" uses the device "+host)
	}
	if rt, _ := svc["runtime"].(string); rt != "" && rt != "runc" {
		d.permit("runtime:"+rt, name+" runs with the "+rt+" runtime")
	}
	for _, so := range stringList(svc["security_opt"]) {
		if strings.Contains(so, "unconfined") {
			d.permit("security-opt:"+so, name+" lifts a confinement")
		}
	}
	if labels, ok := svc["labels"]; ok {
		kept := map[string]any{}
		for k, v := range envMap(labels) {
			if strings.HasPrefix(k, "traefik.") || strings.HasPrefix(k, "runtipi.") || strings.HasPrefix(k, "casaos.") {
				continue
			}
			kept[k] = v
		}
		if len(kept) == 0 {
			delete(svc, "labels")
		} else {
			svc["labels"] = kept
		}
	}
	if f, ok := svc["env_file"]; ok {
		var inlined []string
		env := envMap(svc["environment"])
		for _, file := range stringList(f) {
			vars, ok := d.envFiles[strings.TrimPrefix(file, "./")]
			if !ok {
				d.block(where, "reads its environment from %s, a file the store's runtime writes", file)
				continue
			}
			for k, v := range vars {
				if _, set := env[k]; !set {
					env[k] = v
				}
			}
			inlined = append(inlined, file)
		}
		if len(inlined) > 0 {
			svc["environment"] = env
			delete(svc, "env_file")
		}
	}
	d.image(name, svc)
	d.ports(name, svc)
	d.volumesOf(name, svc)
	d.environment(name, svc)
	if name == d.main && svc["healthcheck"] == nil {
		d.warn(where, "no health check: the install is done when the container starts, not when the app answers; add one the image can run")
	}
	// Every string left: the runtime's variables and names.
	for k, v := range svc {
		svc[k] = d.rewrite(where+"."+k, v)
	}
}

// rewrite substitutes variables and names in every string of v.
func (d *draft) rewrite(where string, v any) any {
	switch t := v.(type) {
	case string:
		return d.rename(d.substitute(where, t))
	case []any:
		for i := range t {
			t[i] = d.rewrite(where, t[i])
		}
	case map[string]any:
		for k := range t {
			t[k] = d.rewrite(where, t[k])
		}
	}
	return v
}

// image moves the image reference to the bundle's images, for relocation.
func (d *draft) image(name string, svc map[string]any) {
	ref, _ := svc["image"].(string)
	if ref == "" {
		if svc["build"] == nil {
			d.block("services."+name, "no image")
		}
		return
	}
	ref = d.substituteQuiet(ref)
	if strings.Contains(ref, "$") {
		d.block("services."+name, "image %q is made of variables the converter cannot resolve", ref)
		return
	}
	repo, tag, digest := parseImage(ref)
	if tag == "" && digest == "" || tag == "latest" && digest == "" {
		d.warn("services."+name, "image %s is not pinned (latest): pin a version before publishing", ref)
		tag = "latest"
	}
	if !strings.Contains(strings.Split(repo, "/")[0], ".") && !strings.Contains(repo, "localhost") {
		if !strings.Contains(repo, "/") {
			repo = "library/" + repo
		}
		repo = "docker.io/" + repo
	}
	alias := paramName(name)
	env := strings.ToUpper(alias) + "_IMAGE"
	d.images = append(d.images, image{alias: alias, env: env, repository: repo, tag: tag, digest: digest})
	svc["image"] = "${" + env + ":?" + env + " is required}"
}

// port is one published port of a service.
type port struct {
	host      string // as written: a number, a ${VAR}, or ""
	container int
	proto     string
}

func (d *draft) ports(name string, svc map[string]any) {
	list, _ := svc["ports"].([]any)
	if len(list) == 0 {
		return
	}
	var out []any
	for _, entry := range list {
		p, err := parsePort(d.substituteQuiet(fmt.Sprint(entryString(entry))), entry)
		if err != nil {
			d.block("services."+name+".ports", "%v", err)
			continue
		}
		web := name == d.main && d.param("port") == nil && p.proto == "tcp" && (d.webPort == 0 || p.container == d.webPort)
		hostDefault, _ := strconv.Atoi(p.host)
		if web {
			if d.webHost == 0 {
				d.webHost = hostDefault
			}
			d.addParam(&param{name: "port", env: "WEB_PORT", typ: "integer", port: true, min: webMin, max: webMax,
				desc: fmt.Sprintf("Host port of the web interface (%s used %s)", d.store, orDash(d.webHost))})
			out = append(out, fmt.Sprintf("${WEB_ADDRESS:-0.0.0.0}:${WEB_PORT:?WEB_PORT is required}:%d", p.container))
			continue
		}
		pname := fmt.Sprintf("%s_%d_port", paramName(name), p.container)
		if name == d.main {
			pname = fmt.Sprintf("p%d_port", p.container)
		}
		if p.proto == "udp" {
			pname = strings.TrimSuffix(pname, "_port") + "_udp_port"
		}
		pp := &param{name: pname, typ: "integer", port: true, min: otherMin, max: otherMax,
			desc: fmt.Sprintf("Host port of %s's %d/%s (%s used %s)", name, p.container, p.proto, d.store, orDash(hostDefault))}
		if hostDefault == p.container && hostDefault > 0 && (hostDefault < 1024 || d.samePort(entry)) {
			// Clients find these at the well-known port (DNS, a game
			// server, SSH for git): the same on both sides.
			pp.min, pp.max = hostDefault, hostDefault
			pp.desc += "; clients expect this port, so it is fixed"
		}
		pp = d.addParam(pp)
		spec := fmt.Sprintf("${%s:?%s is required}:%d", pp.env, pp.env, p.container)
		if p.proto != "tcp" {
			spec += "/" + p.proto
		}
		out = append(out, spec)
	}
	svc["ports"] = out
}

// samePort tells whether a store writes the port with the same variable
// on both sides (Websoft9's "$W9_SSH_PORT_SET:$W9_SSH_PORT_SET").
func (d *draft) samePort(entry any) bool {
	s, ok := entry.(string)
	if !ok {
		return false
	}
	parts := strings.Split(strings.SplitN(s, "/", 2)[0], ":")
	return len(parts) >= 2 && strings.Contains(parts[len(parts)-1], "$") && parts[len(parts)-1] == parts[len(parts)-2]
}

func orDash(n int) string {
	if n == 0 {
		return "none"
	}
	return strconv.Itoa(n)
}

func entryString(e any) any {
	if m, ok := e.(map[string]any); ok {
		return fmt.Sprintf("%v:%v/%v", m["published"], m["target"], orTCP(m["protocol"]))
	}
	return e
}

func orTCP(v any) string {
	if s, _ := v.(string); s != "" {
		return s
	}
	return "tcp"
}

// parsePort reads "[ip:][host:]container[/proto]" (after the variables
// the converter maps were substituted) or the long form.
func parsePort(s string, raw any) (port, error) {
	p := port{proto: "tcp"}
	if m, ok := raw.(map[string]any); ok {
		p.host = strings.TrimSpace(fmt.Sprint(orEmpty(m["published"])))
		p.proto = orTCP(m["protocol"])
		c, err := strconv.Atoi(strings.TrimSpace(fmt.Sprint(m["target"])))
		if err != nil {
			return p, fmt.Errorf("port %v: target is not a number", m["target"])
		}
		p.container = c
		return p, nil
	}
	body, proto, ok := strings.Cut(s, "/")
	if ok {
		p.proto = proto
	}
	parts := strings.Split(body, ":")
	last := parts[len(parts)-1]
	if strings.Contains(last, "-") {
		return p, fmt.Errorf("port %q: a range of ports; name each port", s)
	}
	c, err := strconv.Atoi(last)
	if err != nil {
		return p, fmt.Errorf("port %q: the container port is not a number", s)
	}
	p.container = c
	if len(parts) >= 2 {
		p.host = parts[len(parts)-2]
	}
	return p, nil
}

func orEmpty(v any) any {
	if v == nil {
		return ""
	}
	return v
}

// volumesOf turns binds of the app's data into named volumes and other
// host paths into declared permissions.
func (d *draft) volumesOf(name string, svc map[string]any) {
	list, _ := svc["volumes"].([]any)
	var out []any
	for _, entry := range list {
		var src, dst, mode string
		long, isLong := entry.(map[string]any)
		if isLong {
			src, _ = long["source"].(string)
			dst, _ = long["target"].(string)
			if t, _ := long["type"].(string); t == "volume" || t == "tmpfs" {
				if t == "volume" && src != "" {
					d.volumes[src] = true
				}
				out = append(out, entry)
				continue
			}
		} else {
			s, _ := entry.(string)
			parts := strings.Split(s, ":")
			switch len(parts) {
			case 1:
				out = append(out, entry) // an anonymous volume
				continue
			case 2:
				src, dst = parts[0], parts[1]
			default:
				src, dst, mode = parts[0], parts[1], parts[2]
			}
		}
		src = d.substituteQuiet(src)
		where := "services." + name + ".volumes"
		newSrc := src
		switch {
		case !strings.Contains(src, "/") && !strings.HasPrefix(src, ".") && !strings.HasPrefix(src, "$"):
			d.volumes[src] = true
		case strings.HasPrefix(src, "."):
			d.block(where, "binds %s from the app's folder: a bundle's files are not on the Docker host; make it a volume, or a setting", src)
		case strings.Contains(src, "$"):
			d.substitute(where, src) // reports the runtime's variables
			if !d.blockedAt(where) {
				d.block(where, "binds %s, a path the converter cannot resolve", src)
			}
		case src == "/var/run/docker.sock" || src == "/run/docker.sock":
			d.permit("docker-socket", name+" drives Docker through its socket")
		case src == "/etc/localtime" || src == "/etc/timezone":
			d.warn(where, "the bind of %s is dropped: the container's time zone comes from TZ", src)
			continue
		default:
			if v, ok := d.dataVolume(src); ok {
				newSrc = v
				d.volumes[v] = true
				break
			}
			if v, ok := d.sharedVolume(src); ok {
				newSrc = v
				d.volumes[v] = true
				d.warn(where, "the store's shared folder %s became the volume %s: files other apps put there are not shared", src, v)
				break
			}
			if d.underForeign(src) {
				d.block(where, "binds %s, a folder of the store's runtime or of another app", src)
				break
			}
			d.permit("bind-mount:"+path.Clean(src), name+" reads or writes the host's "+path.Clean(src))
		}
		if isLong {
			long["source"] = newSrc
			if newSrc != src && !strings.Contains(newSrc, "/") {
				long["type"] = "volume"
			}
			out = append(out, long)
			continue
		}
		spec := newSrc + ":" + dst
		if mode != "" {
			spec += ":" + mode
		}
		out = append(out, spec)
	}
	if list != nil {
		svc["volumes"] = out
	}
}

func (d *draft) blockedAt(where string) bool {
	for _, p := range d.problems {
		if p.Severity == Blocked && p.Where == where {
			return true
		}
	}
	return false
}

// dataVolume names the volume of a bind under one of the app's data
// roots: ${APP_DATA_DIR}/data/uploads → data-uploads.
func (d *draft) dataVolume(src string) (string, bool) {
	for _, root := range d.dataRoots {
		if rest, ok := under(src, root); ok {
			return volumeName("data" + rest), true
		}
	}
	return "", false
}

func (d *draft) underForeign(src string) bool {
	for _, root := range d.foreignRoots {
		if _, ok := under(src, root); ok {
			return true
		}
	}
	return false
}

// sharedVolume names the volume of a bind under one of the store's shared
// folders: /DATA/Gallery/immich → shared-gallery-immich.
func (d *draft) sharedVolume(src string) (string, bool) {
	for _, root := range d.sharedRoots {
		if rest, ok := under(src, root); ok {
			return volumeName("shared-" + path.Base(root) + rest), true
		}
	}
	return "", false
}

func volumeName(s string) string {
	n := strings.Trim(nonName.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if len(n) > 60 {
		n = n[:60]
	}
	return n
}

// environment turns literal secrets into generated parameters, the same
// literal to the same parameter wherever it is used.
func (d *draft) environment(name string, svc map[string]any) {
	raw, ok := svc["environment"]
	if !ok {
		return
	}
	env := envMap(raw)
	for _, k := range sortedKeys(env) {
		v, _ := env[k].(string)
		if v == "" || strings.Contains(v, "$") || !secretKey.MatchString(k) {
			continue
		}
		p := d.literalSecret(v, k)
		env[k] = "${" + p.env + "}"
	}
	svc["environment"] = env
}

// literalSecret is the generated parameter standing for a password the
// store committed as a literal.
func (d *draft) literalSecret(literal, key string) *param {
	for _, p := range d.params {
		if p.generate && p.literal == literal {
			return p
		}
	}
	p := d.secretParam(key, "generated at install (the store's file had a fixed value)")
	if p.literal != "" && p.literal != literal {
		// The name is taken by another literal: number it.
		for i := 2; ; i++ {
			q := d.secretParam(fmt.Sprintf("%s_%d", key, i), p.desc)
			if q.literal == "" || q.literal == literal {
				p = q
				break
			}
		}
	}
	p.literal = literal
	d.warn("environment."+key, "a password the store committed as a literal is generated at install instead")
	return p
}

// envMap reads environment (or labels) as a mapping, from either form.
func envMap(v any) map[string]any {
	out := map[string]any{}
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if val == nil {
				out[k] = ""
			} else {
				out[k] = fmt.Sprint(val)
			}
		}
	case []any:
		for _, e := range t {
			k, val, _ := strings.Cut(fmt.Sprint(e), "=")
			out[k] = val
		}
	}
	return out
}

func stringList(v any) []string {
	var out []string
	switch t := v.(type) {
	case []any:
		for _, e := range t {
			out = append(out, fmt.Sprint(e))
		}
	case string:
		out = append(out, t)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
