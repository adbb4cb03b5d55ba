//go:build failpoints

package failpoint

import (
	"os"
	"syscall"
)

var armed = os.Getenv(Env)

func hit(name string) {
	if armed != "" && armed == name {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // SIGKILL is not delivered synchronously
	}
}
