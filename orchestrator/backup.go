package orchestrator

import (
	"context"
	"fmt"
	"io"
	"time"
)

// Backup is one snapshot of an app in a backup repository: its named
// volumes, its installation record and its bundle, taken together.
type Backup struct {
	// ID names the snapshot in its repository.
	ID string
	// Installation is the app's instance name when it was taken.
	Installation string
	// App, Version and Digest name the bundle it ran.
	App, Version, Digest string
	Created              time.Time
	// Size and Files count what the snapshot holds (volumes as archives).
	Size  int64
	Files int
	// Quiesce says how the app was kept still: "actions" (the bundle's
	// backup and postBackup actions) or "stopped" (its containers were
	// stopped for the copy and started after).
	Quiesce     string
	Description string
}

// BackupProgress is how far a backup, a restore or a verify is.
type BackupProgress struct {
	// Bytes done so far, of Total when known (0: unknown).
	Bytes, Total int64
	Files        int64
}

// BackupSource is what a backup saves.
type BackupSource struct {
	Installation string
	// Record is the installation record (JSON, sealed values stay sealed).
	Record []byte
	// BundleDir is the bundle's directory, saved beside the volumes so a
	// restore on another host can run the same version.
	BundleDir string
	// Volumes are the app's named volumes, read through Export
	// (VolumeHost.ExportVolumes gives it).
	Volumes []Volume
	Export  VolumeExport
	// Tags describe the backup (app, version, digest, quiesce).
	Tags map[string]string
}

// BackupStore keeps backups in a repository that deduplicates, compresses,
// encrypts and verifies what it holds.
type BackupStore interface {
	// Save takes one snapshot of src; progress is called now and then.
	Save(ctx context.Context, src BackupSource, progress func(BackupProgress)) (Backup, error)
	// Backups returns the backups of installation ("" for all), newest first.
	Backups(ctx context.Context, installation string) ([]Backup, error)
	// Backup returns backup id. Returns ENOTFOUND.
	Backup(ctx context.Context, id string) (Backup, error)
	// Record returns the installation record saved with backup id.
	Record(ctx context.Context, id string) ([]byte, error)
	// OpenVolume reads the archive of the volume saved under key.
	OpenVolume(ctx context.Context, id, key string) (io.ReadCloser, error)
	// ExtractBundle writes the bundle saved with backup id under dir and
	// returns its directory.
	ExtractBundle(ctx context.Context, id, dir string) (string, error)
	// Verify reads every byte of backup id back ("" verifies them all).
	Verify(ctx context.Context, id string, progress func(BackupProgress)) (VerifyResult, error)
	// Delete removes backup id; its data goes at the next prune.
	Delete(ctx context.Context, id string) error
	// Prune applies keep to installation's backups and collects what no
	// backup uses any more; it returns the IDs it removed.
	Prune(ctx context.Context, installation string, keep Retention) ([]string, error)
}

// VerifyResult is what a verify read.
type VerifyResult struct {
	Backups int
	Bytes   int64
	Files   int64
	// Errors name each unreadable or damaged object.
	Errors []string
}

// Retention says which backups of an app to keep: the last N, and the
// newest of each of the last days, weeks and months. Zero keeps none by
// that rule; all zero keeps everything.
type Retention struct {
	Last, Daily, Weekly, Monthly int
}

// RepositoryConfig is a backup repository as StackHub keeps it: where, and
// its secrets (sealed at rest, never answered).
type RepositoryConfig struct {
	ID string
	// Kind is "filesystem" or "s3".
	Kind string
	// Path is a filesystem repository's absolute directory.
	Path string
	// Endpoint (host:port), Bucket, Prefix, Region and AccessKey name an
	// S3 bucket; Insecure speaks plain HTTP.
	Endpoint, Bucket, Prefix, Region, AccessKey string
	Insecure                                    bool
	// Default: backups go here unless told otherwise.
	Default bool
	Created time.Time
	// Password encrypts the repository; SecretKey is S3's. Sealed at rest.
	Password, SecretKey string
}

// Where says where a repository is, in words.
func (c RepositoryConfig) Where() string {
	if c.Kind == "s3" {
		scheme := "https"
		if c.Insecure {
			scheme = "http"
		}
		return fmt.Sprintf("s3 %s://%s/%s/%s", scheme, c.Endpoint, c.Bucket, c.Prefix)
	}
	return c.Path
}

// RepositoryConfigs stores the repositories' configurations.
type RepositoryConfigs interface {
	// AddRepositoryConfig stores c; ECONFLICT when its ID is taken. The
	// first one stored, or one marked Default, becomes the default.
	AddRepositoryConfig(ctx context.Context, c RepositoryConfig) error
	// RepositoryConfig returns repository id ("" for the default);
	// ENOTFOUND when there is none.
	RepositoryConfig(ctx context.Context, id string) (RepositoryConfig, error)
	// RepositoryConfigs returns every repository, secrets left out.
	RepositoryConfigs(ctx context.Context) ([]RepositoryConfig, error)
	// RemoveRepositoryConfig forgets repository id (its data stays where
	// it is); ENOTFOUND when there is none.
	RemoveRepositoryConfig(ctx context.Context, id string) error
}

// BackupPolicy is when an app is backed up and which of its backups stay.
type BackupPolicy struct {
	// Installation is the app's name; "" is the default policy of every
	// app without one of its own.
	Installation string
	// Schedule is a cron expression (ParseSchedule); "" takes no backups
	// on a schedule.
	Schedule string
	// Repository is where ("" for the default repository).
	Repository string
	// Keep is applied after each scheduled backup; zero keeps all.
	Keep    Retention
	Updated time.Time
}

// BackupPolicies stores backup policies.
type BackupPolicies interface {
	// SetBackupPolicy stores p, replacing the installation's (or the
	// default) policy.
	SetBackupPolicy(ctx context.Context, p BackupPolicy) error
	// BackupPolicies returns every policy, the default ("") first.
	BackupPolicies(ctx context.Context) ([]BackupPolicy, error)
	// DeleteBackupPolicy removes an installation's own policy (the default
	// applies again); no error when it has none.
	DeleteBackupPolicy(ctx context.Context, installation string) error
}
