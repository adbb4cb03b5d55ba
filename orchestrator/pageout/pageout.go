// Package pageout gives the kernel back the resident pages of the running
// executable's read-only file mappings with madvise(MADV_PAGEOUT).
//
// A Go binary's text and read-only data are mapped from its file. Start-up
// touches much of them once (every dependency's package init, the type
// data, the tables of the runtime) and the kernel's fault-around brings
// them in 64 KB at a time, so a server at rest keeps some 30 MB of the
// file resident that it will not read again. Executable asks the kernel to
// reclaim those pages; the ones the process needs later fault back in from
// the file (a major fault when the page cache no longer holds them).
//
// PAGEOUT is reclaim, not discard: a clean page is dropped and read again,
// a dirty private page could only go to swap, so no mapping's contents
// change. MADV_DONTNEED and MADV_FREE, which would drop a private page's
// copy-on-write contents, are never used. Writable mappings (the binary's
// data) are left alone. The kernel pages out only pages mapped by this
// process alone, and file pages only of a file the process owns or may
// write; others are skipped without an error.
//
// The package imports the standard library and golang.org/x/sys/unix
// only, and is Linux-only in effect: elsewhere Executable returns an error
// that wraps errors.ErrUnsupported.
package pageout

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Mapping is one line of /proc/PID/maps.
type Mapping struct {
	// Start and End bound the mapping's addresses, End excluded.
	Start, End uintptr
	// Perms is the permission field, e.g. "r-xp".
	Perms string
	// Inode is the backing file's inode; 0 for anonymous mappings.
	Inode uint64
	// Path is the backing file's path (or a pseudo-path such as [heap]);
	// empty for anonymous mappings.
	Path string
}

// Writable tells whether the mapping may be written.
func (m Mapping) Writable() bool { return len(m.Perms) > 1 && m.Perms[1] == 'w' }

// Len is the mapping's length in bytes.
func (m Mapping) Len() uintptr { return m.End - m.Start }

// ParseMaps parses the text of /proc/PID/maps. A path that holds spaces is
// kept whole; a line that does not parse is an error naming it.
func ParseMaps(data []byte) ([]Mapping, error) {
	var out []Mapping
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		m, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("maps line %d %q: %w", n, line, err)
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read maps: %w", err)
	}
	return out, nil
}

// parseLine parses "start-end perms offset dev inode [path]".
func parseLine(line string) (Mapping, error) {
	var m Mapping
	rest := line
	var f [5]string
	for i := range f {
		rest = strings.TrimLeft(rest, " ")
		var ok bool
		if f[i], rest, ok = strings.Cut(rest, " "); !ok && i < len(f)-1 {
			return m, errors.New("too few fields")
		}
	}
	lo, hi, ok := strings.Cut(f[0], "-")
	if !ok {
		return m, errors.New("address range without '-'")
	}
	start, err := strconv.ParseUint(lo, 16, 64)
	if err != nil {
		return m, fmt.Errorf("start address: %w", err)
	}
	end, err := strconv.ParseUint(hi, 16, 64)
	if err != nil {
		return m, fmt.Errorf("end address: %w", err)
	}
	if end < start {
		return m, errors.New("end address before start")
	}
	if len(f[1]) != 4 {
		return m, fmt.Errorf("permissions %q", f[1])
	}
	if m.Inode, err = strconv.ParseUint(f[4], 10, 64); err != nil {
		return m, fmt.Errorf("inode: %w", err)
	}
	m.Start, m.End, m.Perms = uintptr(start), uintptr(end), f[1]
	m.Path = strings.TrimLeft(rest, " ")
	return m, nil
}

// ExecutableMappings returns the mappings backed by the file at exe (as
// /proc/self/exe names it, " (deleted)" included once the file was
// replaced) that are readable and not writable (r-x, r--): the text and
// read-only data.
func ExecutableMappings(maps []Mapping, exe string) []Mapping {
	var out []Mapping
	for _, m := range maps {
		if m.Inode != 0 && m.Path == exe && strings.HasPrefix(m.Perms, "r") && !m.Writable() && m.End > m.Start {
			out = append(out, m)
		}
	}
	return out
}

// Result says what Executable did.
type Result struct {
	// Mappings is how many mappings were advised; Bytes their length.
	Mappings int
	Bytes    uint64
	// Before and After are the process's resident memory around the call,
	// from /proc/self/status (zero where it could not be read).
	Before, After Resident
}

// Resident is a process's resident memory, in KiB, as /proc/PID/status
// gives it.
type Resident struct {
	RSS, Anon, File, Shmem int64
}

// ReadResident reads VmRSS, RssAnon, RssFile and RssShmem from the status
// file at path (/proc/self/status, /proc/PID/status).
func ReadResident(path string) (Resident, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Resident{}, fmt.Errorf("read resident memory: %w", err)
	}
	var r Resident
	fields := map[string]*int64{"VmRSS:": &r.RSS, "RssAnon:": &r.Anon, "RssFile:": &r.File, "RssShmem:": &r.Shmem}
	found := 0
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		if p, ok := fields[f[0]]; ok {
			if *p, err = strconv.ParseInt(f[1], 10, 64); err != nil {
				return Resident{}, fmt.Errorf("%s %s %q: %w", path, f[0], f[1], err)
			}
			found++
		}
	}
	if found != len(fields) {
		return Resident{}, fmt.Errorf("%s: %d of the %d resident memory fields", path, found, len(fields))
	}
	return r, nil
}
