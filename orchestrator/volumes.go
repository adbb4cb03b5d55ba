package orchestrator

import (
	"context"
	"io"
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
}

// VolumeHost reads and writes apps' named volumes through Docker's API
// alone: a never-started helper container mounts them, and their files
// travel as tar archives (nothing is installed on the host).
type VolumeHost interface {
	// AppVolumes returns app's named volumes, sorted by key.
	AppVolumes(ctx context.Context, app string) ([]Volume, error)
	// ExportVolumes mounts vols read-only in one helper container for as
	// long as fn runs; open reads one of them as a tar archive whose paths
	// start with its Key (fn closes it).
	ExportVolumes(ctx context.Context, vols []Volume, fn func(open func(v Volume) (io.ReadCloser, error)) error) error
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
