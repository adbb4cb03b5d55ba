package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/websoft9/stackhub/orchestrator/dockerhost"
	"github.com/websoft9/stackhub/orchestrator/sqlite"
)

// Outcomes of a doctor check.
const (
	checkOK   = "ok"
	checkWarn = "warn"
	checkFail = "fail"
	checkSkip = "skip"
)

// check is one finding of stackhub doctor.
type check struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Detail string `json:"detail"`
	// Fix says what to do, when not ok.
	Fix string `json:"fix,omitempty"`
}

// packagedConfig is the stackhub package's settings, which its service
// reads: doctor reads them too unless told otherwise.
const packagedConfig = "/etc/stackhub/config.yaml"

func orDefaults(file string) string {
	if file == "" {
		return "the defaults (no --config)"
	}
	return file
}

// Free space below which doctor warns, and fails.
const (
	diskWarnBytes = 10 << 30
	diskFailBytes = 2 << 30
	// clockSkew is how far Docker's clock may be from this one.
	clockSkew = 5 * time.Second
)

func newDoctorCmd(getenv env) *cobra.Command {
	cfg := DefaultConfig()
	var configFile, output string
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check this host for StackHub: Docker, its socket, disk, ports 80/443, the clock, the data directory",
		Long: "doctor checks what StackHub needs of this host and prints what to fix. It reads the settings serve would\n" +
			"(--config, else " + packagedConfig + " when the package installed it; STACKHUB_* variables; flags) and exits 1\n" +
			"when a check fails.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if configFile == "" {
				configFile = getenv(serveConfigEnv)
			}
			if configFile == "" && fileExists(packagedConfig) {
				// The host's installed service reads this one.
				configFile = packagedConfig
			}
			if err := applyServeConfig(cmd.Flags(), configFile, getenv); err != nil {
				return usageErrorf("%v", err)
			}
			if output != "text" && output != "json" {
				return usageErrorf("-o %q: text or json", output)
			}
			if output == "text" {
				fmt.Fprintf(cmd.OutOrStdout(), "settings: %s\n", orDefaults(configFile))
			}
			checks := runDoctor(cmd.Context(), cfg, getenv)
			if err := printChecks(cmd.OutOrStdout(), output, checks); err != nil {
				return err
			}
			failed := 0
			for _, c := range checks {
				if c.Status == checkFail {
					failed++
				}
			}
			if failed > 0 {
				return fmt.Errorf("%d check(s) failed: fix them and run stackhub doctor again", failed)
			}
			return nil
		},
	}
	// The settings serve takes, read the same way; doctor does not serve.
	serveFlags := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	bindServeFlags(serveFlags, &cfg, &configFile)
	serveFlags.VisitAll(func(f *pflag.Flag) { f.Hidden = f.Name != "config" && f.Name != "data-dir" && f.Name != "listen" })
	cmd.Flags().AddFlagSet(serveFlags)
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

func printChecks(w io.Writer, output string, checks []check) error {
	if output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(checks)
	}
	t := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range checks {
		fmt.Fprintf(t, "%s\t%s\t%s\n", strings.ToUpper(c.Status), c.Name, c.Detail)
		if c.Fix != "" {
			fmt.Fprintf(t, "\t\t→ %s\n", c.Fix)
		}
	}
	return t.Flush()
}

// runDoctor runs every check, each bounded in time.
func runDoctor(ctx context.Context, cfg Config, getenv env) []check {
	var checks []check
	docker, dockerCheck, info := doctorDocker(ctx, getenv)
	checks = append(checks, dockerCheck, doctorSocket(getenv))
	checks = append(checks, doctorDataDir(cfg.DataDir)...)
	if info != nil && info.DockerRootDir != "" {
		checks = append(checks, diskCheck("docker disk", info.DockerRootDir, "images, containers and the apps' volumes"))
	}
	checks = append(checks, doctorClock(info)...)
	checks = append(checks, doctorService(ctx, cfg))
	checks = append(checks, doctorPorts(cfg)...)
	if docker != nil {
		_ = docker.Close()
	}
	return checks
}

func dockerWhere(getenv env) string { return dockerhost.DaemonHost(getenv) }

func doctorDocker(ctx context.Context, getenv env) (*client.Client, check, *dockerInfo) {
	c := check{Name: "docker"}
	docker, err := client.New(client.FromEnv, client.WithHost(dockerWhere(getenv)), client.WithAPIVersionNegotiation())
	if err != nil {
		c.Status, c.Detail, c.Fix = checkFail, err.Error(), "unset or correct DOCKER_HOST"
		return nil, c, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := docker.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		c.Status, c.Detail = checkFail, fmt.Sprintf("nothing answers at %s: %v", dockerWhere(getenv), err)
		c.Fix = "install Docker (apt-get install docker.io) or start it (systemctl start docker); journalctl -u docker says why it stopped"
		return docker, c, nil
	}
	c.Status = checkOK
	c.Detail = fmt.Sprintf("Docker %s at %s, API %s (this client speaks %s)", v.Version, dockerWhere(getenv), v.APIVersion, docker.ClientVersion())
	if apiOlder(v.APIVersion, "1.41") {
		c.Status, c.Fix = checkFail, "StackHub needs Docker 20.10 (API 1.41) or newer: upgrade Docker"
	}
	res, err := docker.Info(ctx, client.InfoOptions{})
	if err != nil {
		return docker, c, nil
	}
	return docker, c, &dockerInfo{DockerRootDir: res.Info.DockerRootDir, SystemTime: res.Info.SystemTime}
}

type dockerInfo struct {
	DockerRootDir string
	SystemTime    string
}

// apiOlder tells whether API version v is older than min ("1.41").
func apiOlder(v, min string) bool {
	parse := func(s string) (int, int) {
		maj, minor, _ := strings.Cut(s, ".")
		a, _ := strconv.Atoi(maj)
		b, _ := strconv.Atoi(minor)
		return a, b
	}
	a, b := parse(v)
	c, d := parse(min)
	return a < c || a == c && b < d
}

// doctorSocket checks the Docker socket's owner and mode, and that this
// user may use it.
func doctorSocket(getenv env) check {
	c := check{Name: "docker socket"}
	where := dockerWhere(getenv)
	path, ok := strings.CutPrefix(where, "unix://")
	if !ok {
		c.Status, c.Detail = checkSkip, where+" is not a unix socket"
		return c
	}
	st, err := os.Stat(path)
	if err != nil {
		c.Status, c.Detail, c.Fix = checkFail, err.Error(), "install and start Docker (apt-get install docker.io; systemctl start docker)"
		return c
	}
	sys, _ := st.Sys().(*syscall.Stat_t)
	c.Detail = fmt.Sprintf("%s %s", path, st.Mode().Perm())
	if sys != nil {
		c.Detail += fmt.Sprintf(" owner %d group %d", sys.Uid, sys.Gid)
	}
	if err := unix.Access(path, unix.R_OK|unix.W_OK); err != nil {
		c.Status = checkFail
		c.Fix = "run StackHub as root (the stackhub service does) or add this user to the socket's group (usermod -aG docker USER)"
		return c
	}
	c.Status = checkOK
	if st.Mode().Perm()&0o002 != 0 {
		c.Status, c.Fix = checkWarn, "anyone on this host can drive Docker (root): chmod o-rw "+path
	}
	return c
}

// doctorDataDir checks the state directory, its free space and its
// database's schema.
func doctorDataDir(dir string) []check {
	c := check{Name: "data directory"}
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		c.Status, c.Detail = checkOK, dir+" does not exist yet: serve makes it at the first start"
		return []check{c}
	case err != nil:
		c.Status, c.Detail, c.Fix = checkFail, err.Error(), "make "+dir+" readable by the user StackHub runs as"
		return []check{c}
	case !st.IsDir():
		c.Status, c.Detail, c.Fix = checkFail, dir+" is not a directory", "point --data-dir (data-dir: in the config file) at a directory"
		return []check{c}
	}
	c.Status, c.Detail = checkOK, fmt.Sprintf("%s %s", dir, st.Mode().Perm())
	if err := unix.Access(dir, unix.W_OK); err != nil {
		c.Status, c.Fix = checkFail, "StackHub writes its database there: run it as the directory's owner (root for the service)"
	} else if st.Mode().Perm()&0o077 != 0 {
		c.Status, c.Fix = checkWarn, "it holds the database and secrets' key: chmod 700 "+dir
	}
	out := []check{c, diskCheck("data disk", dir, "the database, run logs and backups kept there")}
	db := check{Name: "database"}
	path := filepath.Join(dir, "stackhub.db")
	if _, err := os.Stat(path); err != nil {
		db.Status, db.Detail = checkOK, "none yet: serve creates "+path
		return append(out, db)
	}
	v, err := schemaVersion(path)
	if err != nil {
		db.Status, db.Detail, db.Fix = checkFail, fmt.Sprintf("%s: %v", path, err), "restore stackhub.db from a backup (the .bak copies beside it are the database before each upgrade)"
		return append(out, db)
	}
	known := sqlite.SchemaVersion()
	switch {
	case v > known:
		db.Status, db.Detail = checkFail, fmt.Sprintf("%s is at schema %d, newer than this stackhub knows (%d)", path, v, known)
		db.Fix = "install the StackHub release that wrote it, or a newer one"
	case v < known:
		db.Status, db.Detail = checkOK, fmt.Sprintf("%s is at schema %d: the next start migrates it to %d (a copy is kept first)", path, v, known)
	default:
		db.Status, db.Detail = checkOK, fmt.Sprintf("%s at schema %d", path, v)
	}
	return append(out, db)
}

// schemaVersion reads the database's schema version without changing it.
func schemaVersion(path string) (int, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var v int
	err = db.QueryRow("PRAGMA user_version").Scan(&v)
	return v, err
}

func diskCheck(name, dir, what string) check {
	c := check{Name: name}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		c.Status, c.Detail = checkSkip, err.Error()
		return c
	}
	free := st.Bavail * uint64(st.Bsize)
	c.Detail = fmt.Sprintf("%s: %s free of %s", dir, gib(free), gib(st.Blocks*uint64(st.Bsize)))
	switch {
	case free < diskFailBytes:
		c.Status, c.Fix = checkFail, "free space or grow the disk: "+what+" need room"
	case free < diskWarnBytes:
		c.Status, c.Fix = checkWarn, "less than 10 GiB free: "+what+" need room"
	default:
		c.Status = checkOK
	}
	return c
}

func gib(b uint64) string { return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30)) }

// doctorClock checks the clock is kept by NTP, and that Docker's agrees.
func doctorClock(info *dockerInfo) []check {
	c := check{Name: "clock"}
	var tx unix.Timex
	state, err := unix.Adjtimex(&tx)
	switch {
	case err != nil:
		c.Status, c.Detail = checkSkip, err.Error()
	case state == unix.TIME_ERROR || tx.Status&unix.STA_UNSYNC != 0:
		c.Status, c.Detail = checkWarn, "the system clock is not synchronised (no NTP)"
		c.Fix = "certificates and one-time codes need the right time: apt-get install systemd-timesyncd (or chrony)"
	default:
		c.Status, c.Detail = checkOK, "synchronised"
	}
	out := []check{c}
	if info != nil && info.SystemTime != "" {
		d := check{Name: "docker clock"}
		if t, err := time.Parse(time.RFC3339Nano, info.SystemTime); err == nil {
			skew := time.Since(t).Abs().Round(time.Millisecond)
			d.Status, d.Detail = checkOK, fmt.Sprintf("Docker's clock is %s from this one", skew)
			if skew > clockSkew {
				d.Status, d.Fix = checkWarn, "Docker runs on another host or clock: synchronise both with NTP"
			}
			out = append(out, d)
		}
	}
	return out
}

// doctorService tells whether a server answers at the configured address.
func doctorService(ctx context.Context, cfg Config) check {
	c := check{Name: "stackhub"}
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	u := scheme + "://" + cfg.Listen + "/healthz"
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		c.Status, c.Detail = checkSkip, err.Error()
		return c
	}
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		c.Status, c.Detail = checkWarn, fmt.Sprintf("no server answers at %s://%s", scheme, cfg.Listen)
		c.Fix = "start it: systemctl start stackhub (journalctl -u stackhub says why it stopped)"
		return c
	}
	resp.Body.Close()
	c.Status, c.Detail = checkOK, fmt.Sprintf("serving at %s://%s (healthz %d)", scheme, cfg.Listen, resp.StatusCode)
	return c
}

// doctorPorts checks the gateway's ports are free (or held by StackHub).
func doctorPorts(cfg Config) []check {
	var out []check
	for _, p := range []struct{ name, addr string }{{"port http", cfg.GatewayHTTP}, {"port https", cfg.GatewayHTTPS}} {
		c := check{Name: p.name}
		ln, err := net.Listen("tcp", p.addr)
		switch {
		case err == nil:
			ln.Close()
			c.Status, c.Detail = checkOK, p.addr+" is free for the gateway"
		case errors.Is(err, syscall.EADDRINUSE):
			c.Status, c.Detail = checkWarn, p.addr+" is in use"
			c.Fix = "if StackHub's gateway runs, that is it; else another web server holds it (ss -ltnp shows which): stop it, or give the gateway other addresses (gateway-http, gateway-https)"
		case errors.Is(err, syscall.EACCES):
			c.Status, c.Detail = checkWarn, p.addr+": "+err.Error()
			c.Fix = "binding ports below 1024 needs root (the stackhub service runs as root)"
		default:
			c.Status, c.Detail = checkWarn, err.Error()
		}
		if !cfg.Gateway {
			c.Detail += " (the gateway is off)"
			if c.Status == checkWarn {
				c.Status = checkOK
				c.Fix = ""
			}
		}
		out = append(out, c)
	}
	return out
}
