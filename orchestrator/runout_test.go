package orchestrator

import (
	"bytes"
	"testing"

	"github.com/websoft9/stackhub/porter-mixin/events"
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

func TestFailedEventWinsOverStderrOrder(t *testing.T) {
	var sink bytes.Buffer
	f := &firstError{w: &sink}
	// The runtime's stderr line overtook the mixin's stdout: the event decides.
	out := "Error: install step 1 (Start): websoft9-runtime install: exit status 1\n" +
		string(events.Format(events.Event{Stage: events.StageFailed, Action: "install", Message: "install websoft9-x: container websoft9-x exited (1)"}))
	if _, err := f.Write([]byte(out)); err != nil {
		t.Fatal(err)
	}
	if got, want := f.reason("x"), "install websoft9-x: container websoft9-x exited (1)"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestMaskerAcrossWrites(t *testing.T) {
	var sink bytes.Buffer
	m := &masker{w: &sink, secrets: []string{"hunter22"}}
	for _, chunk := range []string{"pass=hun", "ter22 ok\nnext hunter", "22\n"} {
		_, err := m.Write([]byte(chunk))
		if err != nil {
			t.Fatal(err)
		}
	}
	if got, want := sink.String(), "pass=******* ok\nnext *******\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
