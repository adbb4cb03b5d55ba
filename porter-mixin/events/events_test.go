package events

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEventFormat(t *testing.T) {
	e := Event{Stage: StagePulling, Image: "nginx:1.27", Current: 1024, Total: 4096}
	line := Format(e)
	assert.Equal(t, `::websoft9-event::{"stage":"pulling","image":"nginx:1.27","current":1024,"total":4096}`+"\n", string(line))
	got, ok := Parse(string(line))
	require.True(t, ok)
	assert.Equal(t, e, got)

	multi := Format(Event{Stage: StageFailed, Message: "line 1\nline 2"})
	assert.Equal(t, 1, bytes.Count(multi, []byte("\n")), "an event is always one line")

	for _, line := range []string{
		"websoft9: Container websoft9-demo Started",
		"::websoft9-event::not json",
		"::websoft9-event::{}",
		" ::websoft9-event::{\"stage\":\"done\"}",
		"",
	} {
		_, ok := Parse(line)
		assert.False(t, ok, "%q is not an event", line)
	}
	got, ok = Parse("::websoft9-event::{\"stage\":\"done\",\"action\":\"install\",\"app\":\"demo\",\"future\":1}\r\n")
	require.True(t, ok, "unknown keys are ignored")
	assert.Equal(t, Event{Stage: StageDone, Action: "install", App: "demo"}, got)
}
