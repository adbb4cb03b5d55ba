// Package failpoint names the places where the crash-consistency tests kill
// StackHub: built with -tags failpoints, Hit(name) sends SIGKILL to its own
// process when STACKHUB_FAILPOINT equals name. Without the tag Hit does
// nothing and costs a function call. It imports only the standard library.
package failpoint

// The named points.
const (
	// InstallAfterCommit: the install is recorded with its ports, the job
	// has not started.
	InstallAfterCommit = "install/after-commit"
	// RunMidAction: the invocation image is bringing the app up (compose
	// has started creating containers).
	RunMidAction = "run/mid-action"
	// RunBeforeResult: the action has ended, its result is not recorded.
	RunBeforeResult = "run/before-result"
	// UninstallAfterMark: the installation is marked uninstalling, nothing
	// is removed yet.
	UninstallAfterMark = "uninstall/after-mark"
	// BackupMidSave: a backup is reading the app's volumes into the
	// repository (its containers stopped for the copy).
	BackupMidSave = "backup/mid-save"
	// RestoreAfterVolume: a restore in place has replaced one volume; the
	// app is not up again.
	RestoreAfterVolume = "restore/after-volume"
)

// Env is the variable that arms a point.
const Env = "STACKHUB_FAILPOINT"

// Hit kills the process at point name when it is armed.
func Hit(name string) { hit(name) }
