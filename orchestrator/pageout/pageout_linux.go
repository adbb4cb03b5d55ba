package pageout

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Executable asks the kernel to page out the resident pages of the running
// executable's non-writable file mappings (see the package doc) and
// returns what it advised, with the resident memory before and after. It
// is safe to call at any time and from any goroutine; it costs one read of
// /proc/self/maps and one madvise per mapping (about a millisecond for a
// 40 MB binary), plus the faults of the pages used again afterwards.
//
// An error says the kernel refused (EINVAL before Linux 5.4, which lacks
// MADV_PAGEOUT) or /proc could not be read; the process is unchanged but
// for the mappings advised before the failure, and can go on.
func Executable() (Result, error) {
	var res Result
	res.Before, _ = ReadResident("/proc/self/status")
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return res, fmt.Errorf("page out the executable: %w", err)
	}
	data, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return res, fmt.Errorf("page out the executable: %w", err)
	}
	maps, err := ParseMaps(data)
	if err != nil {
		return res, fmt.Errorf("page out the executable: %w", err)
	}
	mine := ExecutableMappings(maps, exe)
	if len(mine) == 0 {
		return res, fmt.Errorf("page out the executable: no mapping of %s in /proc/self/maps", exe)
	}
	for _, m := range mine {
		// The raw call takes the addresses as they are: no Go pointer
		// to memory the runtime does not own is ever made.
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, m.Start, m.Len(), unix.MADV_PAGEOUT); errno != 0 {
			res.After, _ = ReadResident("/proc/self/status")
			return res, fmt.Errorf("page out the executable: madvise(%#x, %d, MADV_PAGEOUT) of %s %s: %w", m.Start, m.Len(), m.Perms, m.Path, errno)
		}
		res.Mappings++
		res.Bytes += uint64(m.Len())
	}
	res.After, _ = ReadResident("/proc/self/status")
	return res, nil
}
