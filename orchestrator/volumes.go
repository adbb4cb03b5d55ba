package orchestrator

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"time"
)

// ComposeVolumeLabel is the label compose gives a named volume: its key in
// the compose file (files, db), the same in every installation of an app.
const ComposeVolumeLabel = "com.docker.compose.volume"

// Volume is one named volume of an app as Docker has it.
type Volume struct {
	// Name is Docker's name (websoft9-blog_files).
	Name string
	// Key is the volume's key in the compose file (files): what a
	// snapshot calls it, so that a clone's volume of another name gets it.
	Key     string
	Driver  string
	Options map[string]string
	Labels  map[string]string
	// Mountpoint is where the volume's files are on Docker's host, as
	// Docker reports it: a walk of their metadata finds what changed since
	// the last backup. Not saved with a backup.
	Mountpoint string `json:"-"`
}

// VolumeEntry is a file, directory or link of a volume as the host's
// filesystem shows it: metadata only.
type VolumeEntry struct {
	// Path is slash-separated, relative to the volume's root ("" is the
	// root itself).
	Path    string
	Mode    fs.FileMode
	Size    int64
	ModTime time.Time
	UID     uint32
	GID     uint32
	// Link is a symbolic link's target.
	Link string
	// Links counts a regular file's hard links.
	Links uint64
}

// ErrNoHostView is returned by a walk of a volume whose files StackHub
// cannot see on its own host (a remote Docker engine, another driver):
// the backup then reads the whole volume through Docker.
var ErrNoHostView = errors.New("the volume's files are not visible on this host")

// VolumeExport reads the volumes ExportVolumes mounted: whole, as Docker's
// archive, or file by file from the host's view of them when StackHub runs
// on the engine's host (a backup then reads only what changed).
type VolumeExport interface {
	// Open reads v whole as a tar archive whose paths start with v.Key.
	Open(v Volume) (io.ReadCloser, error)
	// Walk calls fn with each entry of v, a directory before what it
	// holds, in name order, from the host's view of the volume (no
	// content is read). Returns ErrNoHostView when there is none.
	Walk(v Volume, fn func(VolumeEntry) error) error
	// OpenFile reads regular file rel (relative to v's root) from the
	// host's view of v.
	OpenFile(v Volume, rel string) (io.ReadCloser, error)
}

// VolumeHost reads and writes apps' named volumes through Docker's API: a
// never-started helper container mounts them, and their files travel as
// tar archives (nothing is installed on the host). A backup reads the
// files of a volume on StackHub's own host where Docker keeps them, once
// Docker's helper confirms the directory is the volume's.
type VolumeHost interface {
	// AppVolumes returns app's named volumes, sorted by key.
	AppVolumes(ctx context.Context, app string) ([]Volume, error)
	// ExportVolumes mounts vols read-only in one helper container for as
	// long as fn runs, which reads them through x (and closes what it
	// opens).
	ExportVolumes(ctx context.Context, vols []Volume, fn func(x VolumeExport) error) error
	// ImportVolume makes v (created anew, with its labels) hold exactly the
	// files of tar (paths starting with v.Key), owners and modes kept.
	// Returns ECONFLICT when a container still uses the volume.
	ImportVolume(ctx context.Context, v Volume, tar io.Reader) error
	// StopContainers stops those of containers that are running and
	// returns them; StartContainers starts containers.
	StopContainers(ctx context.Context, containers []string) ([]string, error)
	StartContainers(ctx context.Context, containers []string) error
	// RemoveHelpers removes the helper containers a crash left (they hold
	// volumes); none is needed when no copy runs, as at start-up.
	RemoveHelpers(ctx context.Context) (int, error)
}

// NodeVolumeHosts reaches the volumes of apps placed on Swarm nodes
// (dockerhost.NodeVolumes): on the node StackHub runs on through its own
// engine, on another node through a short-lived helper task StackHub
// starts there (the manager's API cannot reach a node's engine). Its
// VolumeHosts keep an app still by scaling its services to 0 and back.
type NodeVolumeHosts interface {
	// OnNode returns the VolumeHost of apps placed on node (a Swarm node
	// ID). Its Walk returns ErrNoHostView on another node: a backup then
	// reads each volume whole.
	OnNode(ctx context.Context, node string) (VolumeHost, error)
	// PurgeVolumes removes app's volumes on node (those labelled with
	// it and named for it) and returns their names (on StackHub's own node
	// through its engine, where an uninstall's run has removed them
	// already, and an app moved away left them). Returns
	// EPRECONDITION, having tried nothing, when node is not ready.
	PurgeVolumes(ctx context.Context, node, app string) ([]string, error)
}
