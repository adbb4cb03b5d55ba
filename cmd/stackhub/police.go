package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/orchestrator/dockerpolicy"
	"github.com/websoft9/stackhub/orchestrator/dockerpolicy/socket"
)

// policeRun returns the runner's Police hook: each run that asks for
// Docker first has its pinned images made present (pin, when not nil),
// then gets a socket of its own, in a directory only root can enter made
// under runDir (see runSocketDir), that forwards to upstream what the
// run's policy allows.
func policeRun(runDir, upstream string, audit orchestrator.AuditLog, log *slog.Logger, pin func(context.Context, orchestrator.RunRequest) error) func(context.Context, orchestrator.RunRequest) (string, func(), error) {
	return func(ctx context.Context, req orchestrator.RunRequest) (string, func(), error) {
		if pin != nil {
			if err := pin(ctx, req); err != nil {
				return "", nil, err
			}
		}
		dir, err := os.MkdirTemp(runDir, "r")
		if err != nil {
			return "", nil, fmt.Errorf("socket directory: %w", err)
		}
		srv, err := socket.Listen(socket.Options{
			Socket:   filepath.Join(dir, "docker.sock"),
			Upstream: upstream,
			Policy:   runPolicy(req),
			Audit: func(r dockerpolicy.Refusal) {
				// A refusal is kept for admins even when the run is cancelled.
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if err := audit.RecordRefusal(ctx, orchestrator.PolicyRefusal{At: time.Now(), Installation: req.Installation,
					RunID: req.RunID, Rule: r.Rule, Call: r.Call, Detail: r.Detail}); err != nil {
					log.Warn("audit log: record a refusal", "run", req.RunID, "err", err)
				}
			},
			Logger: log.With("installation", req.Installation, "run", req.RunID),
		})
		if err != nil {
			os.RemoveAll(dir)
			return "", nil, err
		}
		return filepath.Join(dir, "docker.sock"), func() {
			if err := srv.Close(); err != nil {
				log.Warn("close the policed socket", "run", req.RunID, "err", err)
			}
			os.RemoveAll(dir)
		}, nil
	}
}

// runPolicy is what one run may do: its installation's objects, the
// bundle's images where the run finds them (relocated or not), the
// installation's reserved host ports (on its Swarm node, when it is placed
// on one: the run may then deploy services there, and nowhere else), and
// exactly the permissions the operator granted the bundle (orchestrator.Permission is the policy's
// "<rule>[:<value>]" form).
func runPolicy(req orchestrator.RunRequest) dockerpolicy.Policy {
	p := dockerpolicy.Policy{Installation: req.Installation, HostPorts: req.HostPorts,
		Granted: orchestrator.PermissionStrings(req.Granted), Node: req.Node}
	if req.Bundle != nil {
		for _, img := range req.Bundle.Images {
			ref := img.Image
			if to, ok := req.Relocation[ref]; ok {
				ref = to
			}
			p.Images = append(p.Images, ref)
		}
	}
	return p
}

// runSocketDir makes the directory the runs' sockets go under: DATA_DIR/run,
// emptied of what a server that stopped without cleaning up left (the data
// dir's lock is held: no other server uses it). dockerd bind-mounts a
// run's socket into its invocation container by its path on the host, so
// the socket must not be in a private /tmp (systemd's PrivateTmp=yes): the
// data dir is seen alike by the server and the daemon. A unix socket's path
// is at most 107 bytes: for a data dir whose path is too long for that, the
// sockets go under os.TempDir() as before, which is said in the log.
func runSocketDir(dataDir string, log *slog.Logger) (string, error) {
	dir := filepath.Join(dataDir, "run")
	// MkdirTemp adds up to 10 digits; "r" + them, then /docker.sock.
	if longest := len(filepath.Join(dir, "r0123456789", "docker.sock")); longest > maxSocketPath {
		log.Warn("the data dir's path is too long for the runs' Docker sockets: they go under the temporary directory, which must then be the one dockerd sees (no PrivateTmp)",
			"data_dir", dataDir, "socket_path_bytes", longest, "max", maxSocketPath, "dir", os.TempDir())
		return os.TempDir(), nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("socket directory %s: %w", dir, err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", fmt.Errorf("socket directory %s: %w", dir, err)
	}
	return dir, nil
}

// maxSocketPath is the longest path a unix socket may have on Linux
// (sun_path is 108 bytes with its terminating NUL).
const maxSocketPath = 107
