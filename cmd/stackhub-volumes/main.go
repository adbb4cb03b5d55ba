// Command stackhub-volumes is the program inside StackHub's node volume
// helper image (stackhub/volumes, FROM scratch). StackHub runs it as a
// short-lived Swarm task on the node that holds an app's volumes, whose
// engine it cannot reach: the task mounts the volumes, talks to StackHub
// over HTTP with a one-time token, and exits.
//
//	stackhub-volumes send URL DIR KEY      PUT a tar of DIR (paths KEY/...) to URL
//	stackhub-volumes receive URL DIR KEY   GET a tar from URL and make DIR hold exactly its
//	                                       files (paths KEY/...), owners and modes kept
//	stackhub-volumes remove URL APP        remove APP's volumes through the node's Docker
//	                                       socket (/var/run/docker.sock) and PUT their names
//	                                       to URL as JSON
//
// The token is read from $STACKHUB_TRANSFER_TOKEN and sent as a bearer
// token, never printed. Exit status: 0 done, 2 usage, 3 refused by
// StackHub, 4 reading or writing the volume, 5 Docker refused.
package main

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

const (
	exitUsage   = 2
	exitRefused = 3
	exitIO      = 4
	exitDocker  = 5
)

// TokenEnv holds the transfer's one-time token.
const TokenEnv = "STACKHUB_TRANSFER_TOKEN"

// exitError carries an exit status.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func fail(code int, format string, args ...any) error {
	return &exitError{code: code, err: fmt.Errorf(format, args...)}
}

func main() {
	err := run(context.Background(), os.Args[1:])
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "stackhub-volumes:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		os.Exit(ee.code)
	}
	os.Exit(1)
}

func run(ctx context.Context, args []string) error {
	if len(args) < 3 {
		return fail(exitUsage, "usage: stackhub-volumes send|receive URL DIR KEY, or remove URL APP")
	}
	token := os.Getenv(TokenEnv)
	if token == "" {
		return fail(exitUsage, "$%s is empty", TokenEnv)
	}
	hc := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 15 * time.Second}).DialContext,
		ResponseHeaderTimeout: 0}}
	mode, target := args[0], args[1]
	switch {
	case mode == "send" && len(args) == 4:
		return send(ctx, hc, target, token, args[2], args[3])
	case mode == "receive" && len(args) == 4:
		return receive(ctx, hc, target, token, args[2], args[3])
	case mode == "remove" && len(args) == 3:
		return remove(ctx, hc, target, token, args[2], "/var/run/docker.sock")
	}
	return fail(exitUsage, "unknown mode %q or wrong arguments", mode)
}

// send streams a tar of dir to target.
func send(ctx context.Context, hc *http.Client, target, token, dir, key string) error {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(WriteTar(pw, dir, key)) }()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, target, pr)
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/x-tar")
	return do(hc, req, nil)
}

// do sends req and classifies StackHub's answer; body receives a 200's.
func do(hc *http.Client, req *http.Request, body func(io.Reader) error) error {
	resp, err := hc.Do(req)
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			return ee
		}
		return fail(exitIO, "%s %s: %v", req.Method, redact(req.URL), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fail(exitRefused, "%s %s: %s: %s", req.Method, redact(req.URL), resp.Status, strings.TrimSpace(string(msg)))
	}
	if body != nil {
		return body(resp.Body)
	}
	return nil
}

// redact is u without its query (nothing secret is in it, but keep logs short).
func redact(u *url.URL) string { return u.Scheme + "://" + u.Host + u.Path }

// WriteTar writes dir's tree to w as a tar whose paths start with key
// (key/ itself first), as Docker's archive API gives a directory.
func WriteTar(w io.Writer, dir, key string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fail(exitIO, "open %s: %v", dir, err)
	}
	defer root.Close()
	tw := tar.NewWriter(w)
	if err := writeTree(tw, root, ".", key, map[[2]uint64]string{}); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return fail(exitIO, "%v", err)
	}
	return nil
}

// writeTree writes rel (name in the archive) and what it holds; seen
// names the regular files with several links already written, by device
// and inode, so that a hard link stays one.
func writeTree(tw *tar.Writer, root *os.Root, rel, name string, seen map[[2]uint64]string) error {
	info, err := root.Lstat(rel)
	if err != nil {
		return fail(exitIO, "%v", err)
	}
	link := ""
	if info.Mode()&fs.ModeSymlink != 0 {
		if link, err = root.Readlink(rel); err != nil {
			return fail(exitIO, "%v", err)
		}
	}
	hdr, err := tar.FileInfoHeader(info, link)
	if err != nil {
		return fail(exitIO, "%s: %v", rel, err)
	}
	hdr.Name = name
	if info.IsDir() {
		hdr.Name += "/"
	}
	hdr.Uname, hdr.Gname = "", ""
	if st, ok := info.Sys().(*syscall.Stat_t); ok && info.Mode().IsRegular() && st.Nlink > 1 {
		id := [2]uint64{uint64(st.Dev), st.Ino}
		if first, ok := seen[id]; ok {
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			if err := tw.WriteHeader(hdr); err != nil {
				return fail(exitIO, "%v", err)
			}
			return nil
		}
		seen[id] = name
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return fail(exitIO, "%v", err)
	}
	switch {
	case info.Mode().IsRegular():
		f, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
		if err != nil {
			return fail(exitIO, "%v", err)
		}
		_, err = io.CopyN(tw, f, hdr.Size)
		f.Close()
		if err != nil {
			return fail(exitIO, "%s: %v", rel, err)
		}
	case info.IsDir():
		d, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_DIRECTORY, 0)
		if err != nil {
			return fail(exitIO, "%v", err)
		}
		names, err := d.Readdirnames(-1)
		d.Close()
		if err != nil {
			return fail(exitIO, "%v", err)
		}
		slices.Sort(names)
		for _, n := range names {
			if err := writeTree(tw, root, path.Join(rel, n), name+"/"+n, seen); err != nil {
				return err
			}
		}
	}
	return nil
}

// receive fetches a tar from target into dir.
func receive(ctx context.Context, hc *http.Client, target, token, dir, key string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return do(hc, req, func(r io.Reader) error { return ReadTar(r, dir, key) })
}

// ReadTar makes dir hold exactly the files of the tar r (paths key or
// key/...): what dir held is removed first. Every path is resolved inside
// dir (os.Root): an entry that climbs out (.., an absolute path, a path
// through a link) is refused, as is one outside key/ or of a kind a
// volume does not hold (devices, fifos).
func ReadTar(r io.Reader, dir, key string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fail(exitIO, "open %s: %v", dir, err)
	}
	defer root.Close()
	if err := empty(root); err != nil {
		return err
	}
	type dirTimes struct {
		rel   string
		mtime time.Time
	}
	var dirs []dirTimes
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(exitIO, "read the archive: %v", err)
		}
		rel, err := entryPath(hdr.Name, key)
		if err != nil {
			return fail(exitIO, "%v", err)
		}
		mode := fs.FileMode(hdr.Mode & 0o777)
		if hdr.Mode&0o4000 != 0 {
			mode |= fs.ModeSetuid
		}
		if hdr.Mode&0o2000 != 0 {
			mode |= fs.ModeSetgid
		}
		if hdr.Mode&0o1000 != 0 {
			mode |= fs.ModeSticky
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if rel != "." {
				if err := root.Mkdir(rel, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
					return fail(exitIO, "%v", err)
				}
			}
			dirs = append(dirs, dirTimes{rel, hdr.ModTime})
		case tar.TypeReg:
			if rel == "." {
				return fail(exitIO, "entry %q: the volume's root is not a file", hdr.Name)
			}
			f, err := root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
			if err != nil {
				return fail(exitIO, "%v", err)
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fail(exitIO, "%s: %v", rel, err)
			}
		case tar.TypeSymlink:
			if rel == "." {
				return fail(exitIO, "entry %q: the volume's root is not a link", hdr.Name)
			}
			if err := root.Symlink(hdr.Linkname, rel); err != nil {
				return fail(exitIO, "%v", err)
			}
		case tar.TypeLink:
			target, err := entryPath(hdr.Linkname, key)
			if err != nil {
				return fail(exitIO, "hard link %q: %v", hdr.Name, err)
			}
			if err := root.Link(target, rel); err != nil {
				return fail(exitIO, "%v", err)
			}
			continue
		default:
			return fail(exitIO, "entry %q: type %q is not kept in a volume", hdr.Name, hdr.Typeflag)
		}
		if hdr.Typeflag != tar.TypeSymlink {
			if err := root.Chmod(rel, mode); err != nil {
				return fail(exitIO, "%v", err)
			}
		}
		if err := root.Lchown(rel, hdr.Uid, hdr.Gid); err != nil {
			return fail(exitIO, "%v", err)
		}
		if hdr.Typeflag == tar.TypeReg {
			if err := root.Chtimes(rel, hdr.ModTime, hdr.ModTime); err != nil {
				return fail(exitIO, "%v", err)
			}
		}
	}
	// Directories' times last, deepest first: filling one changes it.
	for _, d := range slices.Backward(dirs) {
		if err := root.Chtimes(d.rel, d.mtime, d.mtime); err != nil {
			return fail(exitIO, "%v", err)
		}
	}
	return nil
}

// entryPath is the path, relative to the volume's root, of tar entry name
// (key or key/...): "." for the root. Anything else is refused.
func entryPath(name, key string) (string, error) {
	n := strings.TrimSuffix(name, "/")
	if n == key {
		return ".", nil
	}
	rel, ok := strings.CutPrefix(n, key+"/")
	if !ok || rel == "" {
		return "", fmt.Errorf("entry %q is not under %s/", name, key)
	}
	if path.IsAbs(rel) || path.Clean(rel) != rel || rel == ".." || strings.HasPrefix(rel, "../") || strings.Contains(rel, "/../") {
		return "", fmt.Errorf("entry %q leaves the volume", name)
	}
	return filepath.FromSlash(rel), nil
}

// empty removes everything under root.
func empty(root *os.Root) error {
	d, err := root.Open(".")
	if err != nil {
		return fail(exitIO, "%v", err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return fail(exitIO, "%v", err)
	}
	for _, n := range names {
		if err := root.RemoveAll(n); err != nil {
			return fail(exitIO, "%v", err)
		}
	}
	return nil
}

// RemoveResult is what remove reports to StackHub.
type RemoveResult struct {
	Removed []string `json:"removed"`
	// Containers are the app's stopped containers removed first.
	Containers []string `json:"containers,omitempty"`
	Errors     []string `json:"errors,omitempty"`
}

// remove removes app's volumes (labelled sh.websoft9.app=app and named
// websoft9-<app>_...) through the node's Docker socket, then reports.
func remove(ctx context.Context, hc *http.Client, target, token, app, socket string) error {
	res, rmErr := removeVolumes(ctx, socket, app)
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, target, strings.NewReader(string(b)))
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	if err := do(hc, req, nil); err != nil {
		return errors.Join(rmErr, err)
	}
	return rmErr
}

// labelApp is naming.LabelApp (this program imports nothing of StackHub).
const labelApp = "sh.websoft9.app"

func removeVolumes(ctx context.Context, socket, app string) (RemoveResult, error) {
	res := RemoveResult{Removed: []string{}}
	docker := &http.Client{Timeout: time.Minute, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", socket)
	}}}
	var list struct {
		Volumes []struct {
			Name   string
			Labels map[string]string
		}
	}
	if err := listLabelled(ctx, docker, "volumes", "/volumes", app, &list); err != nil {
		return res, err
	}
	// The app's services are gone: containers of it the node still holds
	// stopped (its tasks' history from before a restart of this engine,
	// which Swarm no longer removes) would keep its volumes in use.
	stopped, err := removeStopped(ctx, docker, app)
	res.Containers = stopped
	if err != nil {
		return res, err
	}
	prefix := "websoft9-" + app + "_"
	deadline := time.Now().Add(inUseWait)
	for _, v := range list.Volumes {
		// Check again what the filter asked: only this app's volumes.
		if v.Labels[labelApp] != app || !strings.HasPrefix(v.Name, prefix) {
			continue
		}
		if err := removeVolume(ctx, docker, v.Name, deadline); err != nil {
			res.Errors = append(res.Errors, err.Error())
			continue
		}
		res.Removed = append(res.Removed, v.Name)
	}
	slices.Sort(res.Removed)
	if len(res.Errors) > 0 {
		return res, fail(exitDocker, "%s", strings.Join(res.Errors, "; "))
	}
	return res, nil
}

// inUseWait is how long a volume still in use is tried again: the
// containers of the app's removed services go a moment after them (the
// node removes its tasks' containers, their history too, on its own).
var inUseWait = time.Minute

// removeVolume removes volume name, trying again while a container still
// uses it, until deadline.
func removeVolume(ctx context.Context, docker *http.Client, name string, deadline time.Time) error {
	for {
		err := deleteObject(ctx, docker, "/volumes/"+url.PathEscape(name))
		var refused *refusal
		if errors.As(err, &refused) && refused.code == http.StatusConflict && time.Now().Before(deadline) {
			time.Sleep(500 * time.Millisecond)
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}
}

// removeStopped removes the containers labelled with app that do not run
// and returns their names.
func removeStopped(ctx context.Context, docker *http.Client, app string) ([]string, error) {
	var list []struct {
		ID     string `json:"Id"`
		Names  []string
		State  string
		Labels map[string]string
	}
	if err := listLabelled(ctx, docker, "containers", "/containers/json?all=1", app, &list); err != nil {
		return nil, err
	}
	var out []string
	for _, c := range list {
		if c.Labels[labelApp] != app || c.State == "running" || c.State == "restarting" || c.State == "paused" {
			continue
		}
		if err := deleteObject(ctx, docker, "/containers/"+url.PathEscape(c.ID)); err != nil {
			return out, fail(exitDocker, "remove container %s: %v", c.ID, err)
		}
		name := c.ID
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out, nil
}

// listLabelled decodes into v the list at path (a GET of the node's
// engine) of the objects labelled with app; what names them in errors.
func listLabelled(ctx context.Context, docker *http.Client, what, path, app string, v any) error {
	filters, _ := json.Marshal(map[string][]string{"label": {labelApp + "=" + app}})
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker"+path+sep+"filters="+url.QueryEscape(string(filters)), nil)
	if err != nil {
		return fail(exitDocker, "list %s: %v", what, err)
	}
	resp, err := docker.Do(req)
	if err != nil {
		return fail(exitDocker, "list %s: %v", what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fail(exitDocker, "list %s: %s: %s", what, resp.Status, strings.TrimSpace(string(msg)))
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fail(exitDocker, "list %s: %v", what, err)
	}
	return nil
}

// refusal is the engine's answer to a removal it did not do.
type refusal struct {
	code   int
	status string
	msg    string
}

func (r *refusal) Error() string { return r.status + ": " + r.msg }

// deleteObject DELETEs path on the node's engine: nil when it is gone (removed
// now, or not there), a *refusal with the engine's answer otherwise.
func deleteObject(ctx context.Context, docker *http.Client, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, "http://docker"+path, nil)
	if err != nil {
		return err
	}
	resp, err := docker.Do(req)
	if err != nil {
		return err
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	if resp.StatusCode/100 == 2 || resp.StatusCode == http.StatusNotFound {
		return nil
	}
	return &refusal{code: resp.StatusCode, status: resp.Status, msg: strings.TrimSpace(string(msg))}
}
