package swarmspec

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/mount"
)

// mounts returns the service's volumes (named volumes, tmpfs, and bind
// mounts when Options.AllowBindMounts), then its tmpfs entries.
func (c *converter) mounts(k *check, s types.ServiceConfig) []mount.Mount {
	var out []mount.Mount
	for i, v := range s.Volumes {
		key := fmt.Sprintf("volumes[%d]", i)
		k.refuse(v, key+".", mountRules)
		m := mount.Mount{Target: v.Target, ReadOnly: v.ReadOnly, Consistency: mount.Consistency(v.Consistency)}
		switch v.Type {
		case types.VolumeTypeVolume:
			if v.Source == "" {
				k.add(key, fmt.Sprintf("an anonymous volume at %s: declare a named volume (StackHub finds, backs up and purges named ones)", v.Target))
				continue
			}
			if _, ok := c.project.Volumes[v.Source]; !ok {
				k.add(key+".source", fmt.Sprintf("volume %s is not declared under volumes", v.Source))
				continue
			}
			// The node's engine creates the volume when the task first
			// mounts it, with these options: the same as Plan.Volumes'.
			labels := map[string]string{}
			opts := &mount.VolumeOptions{DriverConfig: &mount.Driver{Name: "local"}}
			if v.Volume != nil {
				k.refuse(v.Volume, key+".volume.", volumeMountRules)
				maps.Copy(labels, v.Volume.Labels)
				opts.NoCopy = v.Volume.NoCopy
			}
			maps.Copy(labels, c.volumeLabels(v.Source))
			opts.Labels = labels
			m.Type, m.Source, m.VolumeOptions = mount.TypeVolume, c.objectName(v.Source), opts
		case types.VolumeTypeBind:
			if !c.opts.AllowBindMounts {
				k.add(key, fmt.Sprintf("host bind mounts are refused: %s is a path of one node (Options.AllowBindMounts accepts them)", v.Source))
				continue
			}
			m.Type, m.Source = mount.TypeBind, v.Source
			if b := v.Bind; b != nil {
				k.refuse(b, key+".bind.", bindRules)
				opts := mount.BindOptions{Propagation: mount.Propagation(b.Propagation)}
				switch b.Recursive {
				case "", "enabled":
				case "disabled":
					opts.NonRecursive = true
				default:
					k.add(key+".bind.recursive", fmt.Sprintf("recursive %s needs Docker API 1.44; StackHub negotiates 1.41", b.Recursive))
				}
				if opts != (mount.BindOptions{}) {
					m.BindOptions = &opts
				}
			}
		case types.VolumeTypeTmpfs:
			m.Type = mount.TypeTmpfs
			if t := v.Tmpfs; t != nil {
				k.refuse(t, key+".tmpfs.", tmpfsRules)
				if t.Size != 0 || t.Mode != 0 {
					m.TmpfsOptions = &mount.TmpfsOptions{SizeBytes: int64(t.Size), Mode: os.FileMode(t.Mode)}
				}
			}
		default:
			k.add(key+".type", fmt.Sprintf("%s mounts are not supported on a Swarm (named volumes, tmpfs and, when allowed, bind mounts are)", v.Type))
			continue
		}
		out = append(out, m)
	}
	for i, t := range s.Tmpfs {
		m, err := parseTmpfs(t)
		if err != nil {
			k.add(fmt.Sprintf("tmpfs[%d]", i), err.Error())
			continue
		}
		out = append(out, m)
	}
	return out
}

// parseTmpfs parses a tmpfs entry, PATH[:OPTIONS]. Swarm takes a tmpfs's
// size and mode only: other mount options (uid, noexec, …) need Docker
// API 1.46.
func parseTmpfs(entry string) (mount.Mount, error) {
	target, options, _ := strings.Cut(entry, ":")
	if !strings.HasPrefix(target, "/") {
		return mount.Mount{}, fmt.Errorf("%q: a tmpfs target is an absolute path", entry)
	}
	m := mount.Mount{Type: mount.TypeTmpfs, Target: target}
	if options == "" {
		return m, nil
	}
	opts := &mount.TmpfsOptions{}
	for _, o := range strings.Split(options, ",") {
		name, value, _ := strings.Cut(o, "=")
		switch name {
		case "size":
			n, err := parseSize(value)
			if err != nil {
				return mount.Mount{}, fmt.Errorf("%q: size: %w", entry, err)
			}
			opts.SizeBytes = n
		case "mode":
			n, err := strconv.ParseUint(value, 8, 32)
			if err != nil {
				return mount.Mount{}, fmt.Errorf("%q: mode %q is not an octal file mode", entry, value)
			}
			opts.Mode = os.FileMode(n)
		default:
			return mount.Mount{}, fmt.Errorf("%q: tmpfs option %s needs Docker API 1.46 on a Swarm (size and mode only before); StackHub negotiates 1.41", entry, name)
		}
	}
	m.TmpfsOptions = opts
	return m, nil
}

// parseSize parses a tmpfs size in bytes, with an optional k, m or g
// (powers of 1024, as tmpfs reads them). A percentage of memory has no
// Swarm equivalent.
func parseSize(s string) (int64, error) {
	mult := int64(1)
	num := s
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'k', 'K':
			mult, num = 1<<10, s[:n-1]
		case 'm', 'M':
			mult, num = 1<<20, s[:n-1]
		case 'g', 'G':
			mult, num = 1<<30, s[:n-1]
		case '%':
			return 0, errors.New("a size in percent of memory has no Swarm equivalent: give bytes")
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size in bytes (with k, m or g)", s)
	}
	return n * mult, nil
}
