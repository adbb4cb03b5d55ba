package orchestrator

import (
	"bytes"
	"testing"
)

func TestFirstError(t *testing.T) {
	var sink bytes.Buffer
	f := &firstError{w: &sink}
	for _, chunk := range []string{"executing install\nweb", "soft9: Container x Started\nError: install websoft9-x: con", "tainer websoft9-x exited (1)\nError: step 1 failed\n"} {
		if _, err := f.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := f.reason("fallback"), "install websoft9-x: container websoft9-x exited (1)"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if !bytes.Contains(sink.Bytes(), []byte("Error: step 1 failed")) {
		t.Fatalf("output not passed through: %q", sink.String())
	}
	if got := (&firstError{w: &sink}).reason(" container exit code: 1 \n"); got != "container exit code: 1" {
		t.Fatalf("got %q, want the fallback", got)
	}
}
