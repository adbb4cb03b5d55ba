package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
	"github.com/goreleaser/nfpm/v2/files"
)

// DebOptions is one Debian package to write.
type DebOptions struct {
	// Stamp gives the version (made a Debian one) and the files' time.
	Stamp Stamp
	// Arch is the Debian (and Go) architecture: amd64 or arm64.
	Arch string
	// BinDir holds the binaries built for Arch, named as in binaries.
	BinDir string
	// Packaging is packaging/deb: stackhub.service, config.yaml and the
	// maintainer scripts.
	Packaging string
	// Out is the directory the .deb is written to.
	Out string
}

// Deb writes the stackhub package for one architecture and returns its
// path: the binaries, the systemd unit, /etc/stackhub/config.yaml as a
// conffile and the maintainer scripts (see packaging/deb/README.md).
func Deb(opts DebOptions) (string, error) {
	version, err := debVersion(opts.Stamp.Version, opts.Stamp.Date)
	if err != nil {
		return "", err
	}
	mtime := opts.Stamp.Date.UTC()
	file := func(src, dst string, mode os.FileMode) *files.Content {
		return &files.Content{Source: src, Destination: dst, FileInfo: &files.ContentFileInfo{Mode: mode, MTime: mtime}}
	}
	var contents files.Contents
	for _, b := range binaries {
		if b.Dest == "" {
			continue
		}
		contents = append(contents, file(filepath.Join(opts.BinDir, b.Name), b.Dest, 0o755))
	}
	contents = append(contents,
		file(filepath.Join(opts.Packaging, "stackhub.service"), "/lib/systemd/system/stackhub.service", 0o644),
		file(filepath.Join(opts.Packaging, "README.md"), "/usr/share/doc/stackhub/README.packaging.md", 0o644),
	)
	conf := file(filepath.Join(opts.Packaging, "config.yaml"), "/etc/stackhub/config.yaml", 0o644)
	conf.Type = files.TypeConfig // a conffile: dpkg keeps the operator's edits
	contents = append(contents, conf)

	info := nfpm.WithDefaults(&nfpm.Info{
		Name:          "stackhub",
		Arch:          opts.Arch,
		Platform:      "linux",
		Version:       version,
		VersionSchema: "none", // debVersion already made it a Debian version
		Section:       "admin",
		Priority:      "optional",
		Maintainer:    "Websoft9 <help@websoft9.com>",
		Description: "Self-hosted apps on Docker, installed as Porter/CNAB bundles\n" +
			"StackHub serves an HTTP API and a web console that install, upgrade, back up\n" +
			"and restore self-hosted applications, each a compose project on the local\n" +
			"Docker engine. This package runs it as the stackhub systemd service.",
		Vendor:   "Websoft9",
		Homepage: "https://github.com/websoft9/stackhub",
		License:  "Proprietary", // the repository declares no licence yet
		MTime:    mtime,
		Overridables: nfpm.Overridables{
			Depends:  []string{"docker.io | docker-ce"},
			Contents: contents,
			Scripts: nfpm.Scripts{
				PostInstall: filepath.Join(opts.Packaging, "postinst"),
				PreRemove:   filepath.Join(opts.Packaging, "prerm"),
				PostRemove:  filepath.Join(opts.Packaging, "postrm"),
			},
		},
	})
	if err := nfpm.PrepareForPackager(info, "deb"); err != nil {
		return "", fmt.Errorf("deb %s: %w", opts.Arch, err)
	}
	pkg, err := nfpm.Get("deb")
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(opts.Out, fmt.Sprintf("stackhub_%s_%s.deb", version, opts.Arch))
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	if err := pkg.Package(info, f); err != nil {
		f.Close()
		return "", fmt.Errorf("deb %s: %w", opts.Arch, err)
	}
	return path, f.Close()
}
