package main

import (
	"os"
	"testing"
)

// TestMain lets the test binary be the backup section's child process.
func TestMain(m *testing.M) {
	if code, child := backupChildMain(); child {
		os.Exit(code)
	}
	os.Exit(m.Run())
}
