// Package wire holds the JSON shapes of StackHub's API: the server (web)
// writes them and the CLI's client reads them, so the two cannot drift. It
// imports only the standard library.
package wire

import (
	"encoding/json"
	"time"
)

// App is the seed's description of an installed app.
type App struct {
	AppName       string            `json:"appName"`
	App           string            `json:"app"`
	Version       string            `json:"version"`
	ContainerName string            `json:"containerName"`
	Status        string            `json:"status"`
	State         string            `json:"state"`
	Port          *int              `json:"port"`
	DBPort        *int              `json:"db_port"`
	Ports         map[string]int    `json:"ports"`
	Containers    []string          `json:"containers"`
	Outputs       map[string]string `json:"outputs,omitempty"`
	Info          string            `json:"info"`
	RunID         string            `json:"runId"`
	// Active is the action of the run in progress, if any.
	Active string `json:"active,omitempty"`
	// CatalogVersion is the catalog's version of the app ("" when the
	// catalog no longer has it); Upgradable when it is newer than Version.
	CatalogVersion string `json:"catalogVersion,omitempty"`
	Upgradable     bool   `json:"upgradable"`
	// LoginPath is the app's sign-in page on its main port, e.g. /login.
	LoginPath string `json:"loginPath,omitempty"`
	// Observed are the app's containers as Docker shows them now (absent
	// when that is not known).
	Observed []ContainerState `json:"observed,omitempty"`
	// Node is the Swarm node the app is placed on (absent on a single
	// host).
	Node *AppNode `json:"node,omitempty"`
}

// AppNode is where on a Swarm an app runs.
type AppNode struct {
	// ID and Hostname name the Swarm node.
	ID       string `json:"id"`
	Hostname string `json:"hostname"`
	// Addr is the node's address; Address is the app's main port there
	// (Addr:port), "" when the app has no port.
	Addr    string `json:"addr"`
	Address string `json:"address,omitempty"`
	// State is the node's state as the manager last saw it (ready, down,
	// disconnected, unknown, removed), for an app on a node other than the
	// server's own; absent when not known. An app on a node that is not
	// ready shows state "unreachable".
	State string `json:"state,omitempty"`
}

// ContainerState is one container of an app as Docker shows it.
type ContainerState struct {
	Name  string `json:"name"`
	State string `json:"state"`
	// Health is healthy, unhealthy, starting, or "" without a check.
	Health string `json:"health,omitempty"`
	Ports  []int  `json:"ports,omitempty"`
}

// Credentials are an installed app's sensitive outputs: Values the first
// time they are asked for, afterwards only Names and ShownAt.
type Credentials struct {
	App         string            `json:"app"`
	Credentials map[string]string `json:"credentials"`
	Names       []string          `json:"names"`
	ShownAt     *time.Time        `json:"shownAt"`
}

// Uninstalled is what /uninstallApp returns.
type Uninstalled struct {
	AppName           string   `json:"appName"`
	RemovedContainers []string `json:"removedContainers"`
	RemovedNetworks   []string `json:"removedNetworks"`
	RemovedVolumes    []string `json:"removedVolumes"`
	KeptVolumes       []string `json:"keptVolumes"`
	FreedPorts        []int    `json:"freedPorts"`
}

// Job is a run as /api/v1 shows it.
type Job struct {
	ID       string            `json:"id"`
	App      string            `json:"app"`
	Action   string            `json:"action"`
	Status   string            `json:"status"`
	Message  string            `json:"message,omitempty"`
	Outputs  map[string]string `json:"outputs,omitempty"`
	Created  time.Time         `json:"created"`
	Finished *time.Time        `json:"finished,omitempty"`
}

// JobEvent is one Server-Sent Event's data.
type JobEvent struct {
	Seq      int       `json:"seq"`
	Time     time.Time `json:"time"`
	Type     string    `json:"type"`
	Stage    string    `json:"stage,omitempty"`
	Image    string    `json:"image,omitempty"`
	Resource string    `json:"resource,omitempty"`
	Status   string    `json:"status,omitempty"`
	Current  int64     `json:"current,omitempty"`
	Total    int64     `json:"total,omitempty"`
	// Files and etaSeconds (the time left at the rate so far) come with a
	// backup's or a restore's progress.
	Files      int64  `json:"files,omitempty"`
	ETASeconds int64  `json:"etaSeconds,omitempty"`
	Message    string `json:"message,omitempty"`
	Line       string `json:"line,omitempty"`
}

// CatalogSummary is a catalog entry as GET /api/v1/catalog lists it: what
// a card shows and a search matches. GET /api/v1/catalog/{name} answers
// the whole entry (CatalogApp), parameters and form included.
type CatalogSummary struct {
	Name         string            `json:"appName"`
	Title        string            `json:"title"`
	Version      string            `json:"version"`
	Description  string            `json:"description"`
	Category     string            `json:"category"`
	Icon         string            `json:"icon"`
	Requirements map[string]string `json:"requirements"`
	// Generated are the secrets generated at install (shown once).
	Generated []string `json:"generated"`
	// Texts are the title and description in other languages.
	Texts  map[string]CatalogTexts `json:"texts,omitempty"`
	Source string                  `json:"source,omitempty"`
	Origin *CatalogOrigin          `json:"origin,omitempty"`
}

// CatalogPage is one page of /appList's answer beside the seed envelope's
// data: how many entries match, and which slice of them data holds.
type CatalogPage struct {
	Total    int `json:"total"`
	Page     int `json:"page"`
	PageSize int `json:"pageSize"`
}

// CatalogApp is a catalog entry on the wire.
type CatalogApp struct {
	Name         string            `json:"appName"`
	Title        string            `json:"title"`
	Version      string            `json:"version"`
	Description  string            `json:"description"`
	Ports        []CatalogPort     `json:"ports"`
	Actions      []string          `json:"actions"`
	Requirements map[string]string `json:"requirements"`
	Category     string            `json:"category"`
	// Icon is the icon's URL on this server, "" when the app has none.
	Icon          string       `json:"icon"`
	Homepage      string       `json:"homepage"`
	Documentation string       `json:"documentation"`
	Login         CatalogLogin `json:"login"`
	// Images are the images the bundle runs, as references.
	Images []string `json:"images"`
	// Generated are the secrets generated at install (shown once).
	Generated []string `json:"generated"`
	// Parameters are the bundle's parameters, what an install may set.
	Parameters []CatalogParameter `json:"parameters"`
	// Texts are the app's words in other languages, by language tag:
	// title, description, and each parameter's label and help.
	Texts map[string]CatalogTexts `json:"texts,omitempty"`
	// Form groups and orders the install form's fields; parameters it does
	// not name come after it, folded away as advanced.
	Form []FormGroup `json:"form,omitempty"`
	// Source is where a bundle that was not in the catalog directory came
	// from: its registry reference with digest, "archive …" or
	// "catalog add …".
	Source string `json:"source,omitempty"`
	// Origin is the app of another store the bundle was converted from
	// (its custom.sh.websoft9.source); absent when it does not say.
	Origin *CatalogOrigin `json:"origin,omitempty"`
}

// CatalogOrigin names the app of another store a bundle was converted
// from.
type CatalogOrigin struct {
	// Store is the store's format: websoft9, casaos, runtipi, umbrel or
	// compose.
	Store string `json:"store"`
	// ID is the app's id in that store.
	ID      string `json:"id"`
	Version string `json:"version,omitempty"`
}

// CatalogLogin tells where and how to sign in to an installed app.
type CatalogLogin struct {
	Path     string `json:"path"`
	User     string `json:"user"`
	Password string `json:"password"`
}

// CatalogTexts are an app's catalog texts in one language.
type CatalogTexts struct {
	Title       string                          `json:"title,omitempty"`
	Description string                          `json:"description,omitempty"`
	Parameters  map[string]CatalogParameterText `json:"parameters,omitempty"`
	// Form are the form groups' labels, by group ID.
	Form map[string]string `json:"form,omitempty"`
}

// FormGroup is one group of an install form.
type FormGroup struct {
	ID       string   `json:"group"`
	Label    string   `json:"label"`
	Fields   []string `json:"fields"`
	Advanced bool     `json:"advanced,omitempty"`
}

// CatalogParameterText is a parameter's label and help in one language.
type CatalogParameterText struct {
	Label string `json:"label,omitempty"`
	Help  string `json:"help,omitempty"`
}

// CatalogParameter is one bundle parameter as an install form shows it.
type CatalogParameter struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Type is string, integer, number, boolean or file.
	Type string `json:"type"`
	// Default is the bundle's default, never a sensitive one's.
	Default any `json:"default,omitempty"`
	// Rules are the JSON Schema keywords that check a value (minimum,
	// maximum, enum, pattern, minLength, maxLength).
	Rules     map[string]any `json:"rules,omitempty"`
	ApplyTo   []string       `json:"applyTo,omitempty"`
	Sensitive bool           `json:"sensitive,omitempty"`
	// Port: StackHub picks the host port unless the install asks for one.
	Port bool `json:"port,omitempty"`
	// Generated: a random secret fills it when left empty.
	Generated bool `json:"generated,omitempty"`
	Settable  bool `json:"settable"`
	Required  bool `json:"required,omitempty"`
}

type CatalogPort struct {
	Name string `json:"name"`
	Min  int    `json:"min"`
	Max  int    `json:"max"`
}

// ServerStatus is /searchServer's data: the seed's percent strings plus the
// figures behind them.
type ServerStatus struct {
	CPU      string         `json:"cpu"`
	Memory   string         `json:"memory"`
	HDD      string         `json:"hdd"`
	Load     [3]float64     `json:"load"`
	Uptime   int64          `json:"uptime"`
	Docker   string         `json:"docker"`
	Apps     map[string]int `json:"apps"`
	Risk     int            `json:"risk"`
	Info     []string       `json:"info"`
	Risks    []Risk         `json:"risks"`
	Sampled  *time.Time     `json:"sampledAt,omitempty"`
	MemTotal uint64         `json:"memoryTotal"`
	MemUsed  uint64         `json:"memoryUsed"`
	HDDTotal uint64         `json:"hddTotal"`
	HDDUsed  uint64         `json:"hddUsed"`
}

type Risk struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Advice  string `json:"advice"`
}

type Sample struct {
	Time   time.Time `json:"time"`
	CPU    float64   `json:"cpu"`
	Memory float64   `json:"memory"`
	HDD    float64   `json:"hdd"`
	Load1  float64   `json:"load1"`
}

// Token is a token as listed: never its hash or secret.
type Token struct {
	ID       string     `json:"id"`
	Name     string     `json:"name"`
	Scope    string     `json:"scope"`
	Created  time.Time  `json:"created"`
	LastUsed *time.Time `json:"lastUsed,omitempty"`
	// Token is the secret, only in the answer that creates it.
	Token string `json:"token,omitempty"`
}

// Permission is one permission a bundle declares beyond StackHub's
// default bundle policy ("<kind>[:<value>]", e.g. cap-add:NET_ADMIN), with
// what it lets the bundle do in plain words.
type Permission struct {
	Permission  string `json:"permission"`
	Description string `json:"description"`
}

// Grant is an operator's consent to what one bundle (by digest) declares.
type Grant struct {
	ID          string    `json:"id"`
	App         string    `json:"app"`
	Version     string    `json:"version"`
	Digest      string    `json:"digest"`
	Permissions []string  `json:"permissions"`
	GrantedBy   string    `json:"grantedBy"`
	GrantedAt   time.Time `json:"grantedAt"`
}

// AppPermissions is GET /api/v1/catalog/{name}/permissions: what the
// catalog's bundle of the app declares and its live grant.
type AppPermissions struct {
	App     string `json:"app"`
	Version string `json:"version"`
	// Digest identifies the bundle; a grant names it.
	Digest string `json:"digest"`
	// Permissions are the declared ones, [] when the bundle needs nothing
	// beyond the default policy.
	Permissions []Permission `json:"permissions"`
	// Grant is the live grant of Digest, null if there is none.
	Grant *Grant `json:"grant"`
	// Missing are the declared permissions not granted: installs and
	// upgrades are refused (403) while it is not empty.
	Missing []string `json:"missing"`
}

// GrantRequest is the body of POST /api/v1/catalog/{name}/grants.
type GrantRequest struct {
	// Digest is the bundle digest whose permissions were reviewed.
	Digest string `json:"digest"`
	// Permissions must be exactly the declared ones.
	Permissions []string `json:"permissions"`
}

// Error is the body of every /api/v1 failure.
type Error struct {
	Error   string `json:"error"`
	Message string `json:"message"`
	// Fields says what is wrong with each named input (parameter values
	// refused: error "parameters").
	Fields map[string]string `json:"fields,omitempty"`
}

// Final tells whether ev is the job's last event: the stage done, failed
// or canceled of the job itself (a failed resource names one).
func (ev JobEvent) Final() bool {
	if ev.Type != "stage" || ev.Resource != "" || ev.Image != "" {
		return false
	}
	return ev.Stage == "done" || ev.Stage == "failed" || ev.Stage == "canceled"
}

// Runtime is GET /api/v1/debug/runtime (serve --debug-runtime only).
type Runtime struct {
	Goroutines int `json:"goroutines"`
	// OpenFDs, of them UnixSockets (the Docker client's connections) and
	// DatabaseFiles (SQLite's connections), and RSSBytes are -1 where
	// /proc is missing.
	OpenFDs       int   `json:"openFDs"`
	UnixSockets   int   `json:"unixSockets"`
	DatabaseFiles int   `json:"databaseFiles"`
	RSSBytes      int64 `json:"rssBytes"`
}

// User is an account as the API shows it: never a hash or a secret.
type User struct {
	Name                string    `json:"name"`
	Role                string    `json:"role"`
	Created             time.Time `json:"created"`
	SecondFactor        bool      `json:"secondFactor"`
	RequireSecondFactor bool      `json:"requireSecondFactor"`
}

// UserChange changes a user: nil fields stay as they are.
type UserChange struct {
	Role                *string `json:"role,omitempty"`
	RequireSecondFactor *bool   `json:"requireSecondFactor,omitempty"`
}

// Invite is an invitation to make an account with a role; Code only in
// the answer that made it.
type Invite struct {
	ID        string    `json:"id"`
	Role      string    `json:"role"`
	CreatedBy string    `json:"createdBy"`
	Created   time.Time `json:"created"`
	Expires   time.Time `json:"expires"`
	Code      string    `json:"code,omitempty"`
}

// AppSettings are an app's current settings: GET /api/v1/apps/{name}/settings.
type AppSettings struct {
	Name    string `json:"name"`
	App     string `json:"app"`
	Version string `json:"version"`
	// Settings are in the order of the catalog's parameters; a sensitive
	// one never carries its value.
	Settings []Setting `json:"settings"`
	// Catalog is the app's catalog entry: the parameters' types, rules,
	// texts and form groups, for an edit form.
	Catalog CatalogApp `json:"catalog"`
}

// Setting is one current setting of an app.
type Setting struct {
	Name      string `json:"name"`
	Value     any    `json:"value,omitempty"`
	Sensitive bool   `json:"sensitive,omitempty"`
	// Set tells whether it has a value (the only thing said of a
	// sensitive one).
	Set bool `json:"set"`
	// Editable: an upgrade may change it.
	Editable bool `json:"editable"`
}

// UpgradePlan is what an upgrade would do: POST /api/v1/apps/{name}/upgrade/plan.
type UpgradePlan struct {
	Name        string          `json:"name"`
	FromVersion string          `json:"fromVersion"`
	ToVersion   string          `json:"toVersion"`
	Changes     []SettingChange `json:"changes"`
}

// SettingChange is one setting an upgrade changes; a sensitive one
// carries no values.
type SettingChange struct {
	Name      string `json:"name"`
	From      any    `json:"from,omitempty"`
	To        any    `json:"to,omitempty"`
	Sensitive bool   `json:"sensitive,omitempty"`
	// FromDefault: the last run did not set it; From is the default.
	FromDefault bool `json:"fromDefault,omitempty"`
}

// ContainerStats is one container's resource use: GET /api/v1/apps/{name}/stats.
type ContainerStats struct {
	Name            string  `json:"name"`
	CPUPercent      float64 `json:"cpuPercent"`
	MemoryBytes     uint64  `json:"memoryBytes"`
	MemoryLimit     uint64  `json:"memoryLimit"`
	NetRxBytes      uint64  `json:"netRxBytes"`
	NetTxBytes      uint64  `json:"netTxBytes"`
	BlockReadBytes  uint64  `json:"blockReadBytes"`
	BlockWriteBytes uint64  `json:"blockWriteBytes"`
	PIDs            uint64  `json:"pids"`
	// Unavailable, when set, says why the container was not sampled (an
	// app on another Swarm node): the figures above are then left out of
	// the JSON, and Node is the node's as the manager reports it.
	Unavailable string     `json:"unavailable,omitempty"`
	Node        *StatsNode `json:"node,omitempty"`
}

// StatsNode is what the manager reports of the node a container that was
// not sampled runs on: what it has, not what it uses.
type StatsNode struct {
	ID          string  `json:"id"`
	Hostname    string  `json:"hostname,omitempty"`
	Addr        string  `json:"addr,omitempty"`
	State       string  `json:"state,omitempty"`
	CPUs        float64 `json:"cpus,omitempty"`
	MemoryBytes int64   `json:"memoryBytes,omitempty"`
}

// MarshalJSON leaves the figures out of a container that was not sampled,
// so that no zero reads as a measure.
func (c ContainerStats) MarshalJSON() ([]byte, error) {
	if c.Unavailable != "" {
		return json.Marshal(struct {
			Name        string     `json:"name"`
			Unavailable string     `json:"unavailable"`
			Node        *StatsNode `json:"node,omitempty"`
		}{c.Name, c.Unavailable, c.Node})
	}
	type plain ContainerStats
	return json.Marshal(plain(c))
}

// Backup is one backup of an app in a repository.
type Backup struct {
	ID           string    `json:"id"`
	Installation string    `json:"installation"`
	App          string    `json:"app"`
	Version      string    `json:"version"`
	Digest       string    `json:"digest,omitempty"`
	Created      time.Time `json:"created"`
	Size         int64     `json:"size"`
	Files        int       `json:"files"`
	// Quiesce says how the app was kept still: actions (its bundle's
	// backup/postBackup), stopped (its containers), none (not running).
	Quiesce string `json:"quiesce"`
}

// Repository is a backup repository, without its secrets.
type Repository struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	Where     string    `json:"where"`
	Path      string    `json:"path,omitempty"`
	Endpoint  string    `json:"endpoint,omitempty"`
	Bucket    string    `json:"bucket,omitempty"`
	Prefix    string    `json:"prefix,omitempty"`
	Region    string    `json:"region,omitempty"`
	AccessKey string    `json:"accessKey,omitempty"`
	Insecure  bool      `json:"insecure,omitempty"`
	Default   bool      `json:"default"`
	Created   time.Time `json:"created"`
}

// RepositoryRequest adds a backup repository: create makes a new one at
// the location, else the one there is opened with password.
type RepositoryRequest struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	Path      string `json:"path,omitempty"`
	Endpoint  string `json:"endpoint,omitempty"`
	Bucket    string `json:"bucket,omitempty"`
	Prefix    string `json:"prefix,omitempty"`
	Region    string `json:"region,omitempty"`
	AccessKey string `json:"accessKey,omitempty"`
	SecretKey string `json:"secretKey,omitempty"`
	Insecure  bool   `json:"insecure,omitempty"`
	Password  string `json:"password"`
	Default   bool   `json:"default,omitempty"`
	Create    bool   `json:"create,omitempty"`
}

// VerifyResult is what a verify read back.
type VerifyResult struct {
	Backups int      `json:"backups"`
	Bytes   int64    `json:"bytes"`
	Files   int64    `json:"files"`
	Errors  []string `json:"errors"`
}

// Retention says which backups a prune keeps.
type Retention struct {
	Last    int `json:"last,omitempty"`
	Daily   int `json:"daily,omitempty"`
	Weekly  int `json:"weekly,omitempty"`
	Monthly int `json:"monthly,omitempty"`
}

// BackupPolicy is when an app (or, as the default, every app without its
// own) is backed up and which backups stay.
type BackupPolicy struct {
	// Schedule is a cron expression ("0 3 * * *", @daily); "" takes no
	// scheduled backups.
	Schedule   string    `json:"schedule"`
	Repository string    `json:"repository,omitempty"`
	Keep       Retention `json:"keep"`
	// Inherited: the app has no policy of its own; this is the default.
	Inherited bool       `json:"inherited,omitempty"`
	Next      *time.Time `json:"next,omitempty"`
}

// Domain is a domain the gateway serves for an app (or the console).
type Domain struct {
	Domain       string      `json:"domain"`
	App          string      `json:"app,omitempty"`
	Port         string      `json:"port,omitempty"`
	PathPrefix   string      `json:"pathPrefix,omitempty"`
	NoRedirect   bool        `json:"noRedirect,omitempty"`
	MaxBodyBytes int64       `json:"maxBodyBytes"`
	Created      time.Time   `json:"created"`
	Certificate  Certificate `json:"certificate"`
	// Rebind is the job (an upgrade of the same version) that publishes
	// the app's web port on the loopback now that the gateway serves it.
	Rebind string `json:"rebind,omitempty"`
	// Upstream is where the gateway sends the domain's requests
	// (host:port): the loopback on a single host, the node's address for
	// an app placed on a Swarm node.
	Upstream string `json:"upstream,omitempty"`
	// Exposed is set for an app on a Swarm node: its web port also
	// answers at this address without the gateway (Swarm cannot publish a
	// port on a loopback only), so a firewall must close it if it should
	// not be reached directly.
	Exposed string `json:"exposed,omitempty"`
}

// Certificate is a domain's certificate state: pending, valid or failed
// (with the CA's error; retried with backoff).
type Certificate struct {
	State    string     `json:"state"`
	Issuer   string     `json:"issuer,omitempty"`
	Error    string     `json:"error,omitempty"`
	NotAfter *time.Time `json:"notAfter,omitempty"`
	Attempts int        `json:"attempts,omitempty"`
	Updated  *time.Time `json:"updated,omitempty"`
}

// DomainRequest adds a domain (POST /api/v1/apps/{name}/domains).
type DomainRequest struct {
	Domain       string `json:"domain"`
	Port         string `json:"port,omitempty"`
	PathPrefix   string `json:"pathPrefix,omitempty"`
	NoRedirect   bool   `json:"noRedirect,omitempty"`
	MaxBodyBytes int64  `json:"maxBodyBytes,omitempty"`
}

// Gateway is GET /api/v1/gateway.
type Gateway struct {
	Enabled bool   `json:"enabled"`
	Mode    string `json:"mode,omitempty"`
	HTTP    string `json:"http,omitempty"`
	HTTPS   string `json:"https,omitempty"`
	CA      string `json:"ca,omitempty"`
	// RootCA is the internal CA's certificate (PEM) for clients to trust.
	RootCA  string   `json:"rootCA,omitempty"`
	Domains []Domain `json:"domains"`
}

// BuildInfo is the server's release: `stackhub version -o json`, and
// "stackhub" in GET /api/v1/server.
type BuildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	Date      string `json:"date,omitempty"`
	Dirty     bool   `json:"dirty,omitempty"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}
