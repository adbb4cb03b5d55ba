package orchestrator

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/porter-mixin/events"
)

func TestFeedTurnsOutputIntoEvents(t *testing.T) {
	f := newFeed()
	f.add(JobEvent{Type: "stage", Stage: StageQueued})
	out := string(events.Format(events.Event{Stage: events.StageBegin, Action: "install", App: "x"})) +
		"websoft9: Container websoft9-x Creat" // a line split across writes
	_, _ = f.Write([]byte(out))
	_, _ = f.Write([]byte("ed\n" + string(events.Format(events.Event{Stage: events.StagePulling, Image: "a:1", Current: 5, Total: 10})) +
		string(events.Format(events.Event{Stage: events.StageWaiting, Resource: "Container websoft9-x", Status: "Healthy"})) +
		string(events.Format(events.Event{Stage: events.StageFailed, Action: "install", Message: "boom"})) + "\n"))
	f.end(StageFailed, "boom")
	f.add(JobEvent{Type: "log", Line: "after the end"})

	evs, closed, _ := f.since(0)
	require.True(t, closed)
	var got []string
	for _, e := range evs {
		got = append(got, e.Type+":"+e.Stage+e.Line)
	}
	assert.Equal(t, []string{"stage:queued", "log:websoft9: Container websoft9-x Created", "stage:pulling", "stage:healthy", "stage:failed"}, got)
	assert.Equal(t, int64(10), evs[2].Total)
	assert.Equal(t, 5, evs[4].Seq)
	later, _, _ := f.since(3)
	assert.Len(t, later, 2, "since resumes after a sequence number")
}

func TestWatchJobFollowsUntilTheEnd(t *testing.T) {
	e := New(Deps{})
	f := e.feeds.open("r1")
	f.add(JobEvent{Type: "stage", Stage: StageQueued})
	go func() {
		time.Sleep(20 * time.Millisecond)
		_, _ = f.Write([]byte("a log line\n"))
		f.end(StageDone, "")
	}()
	var got []string
	err := e.WatchJob(context.Background(), "r1", 0, func(ev JobEvent) error {
		got = append(got, ev.Stage+ev.Line)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"queued", "a log line", "done"}, got)
}

// TestFeedCutsLongLines: a line past MaxLogLine is cut and marked, the
// rest of it dropped, and output without any newline never grows the
// buffer past the bound.
func TestFeedCutsLongLines(t *testing.T) {
	f := newFeed()
	long := strings.Repeat("é", MaxLogLine) // two bytes each
	_, _ = f.Write([]byte("short\n" + long + "\nafter\n"))
	for range 100 {
		_, _ = f.Write([]byte(strings.Repeat("x", 64<<10))) // 6.4 MB, no newline
	}
	assert.LessOrEqual(t, cap(f.partial), 4*MaxLogLine+64<<10, "the buffer stays bounded")
	_, _ = f.Write([]byte("tail of the endless line\nlast\n"))
	var lines []string
	for _, e := range f.events {
		lines = append(lines, e.Line)
	}
	require.Len(t, lines, 5, "short, the cut é line, after, the cut x line, last")
	assert.Equal(t, "short", lines[0])
	assert.True(t, strings.HasSuffix(lines[1], " [line cut at 16 KiB]"))
	assert.LessOrEqual(t, len(lines[1]), MaxLogLine+len(" [line cut at 16 KiB]"))
	assert.True(t, utf8.ValidString(lines[1]), "cut on a character boundary")
	assert.Equal(t, "after", lines[2])
	assert.True(t, strings.HasPrefix(lines[3], "xxxx"))
	assert.Equal(t, "last", lines[4], "the rest of the endless line was dropped")
}

func TestETA(t *testing.T) {
	assert.Zero(t, eta(500*time.Millisecond, 10, 100), "too early to tell")
	assert.Zero(t, eta(10*time.Second, 0, 100), "nothing done yet")
	assert.Zero(t, eta(10*time.Second, 100, 100), "done")
	assert.Equal(t, int64(30), eta(10*time.Second, 25, 100))
	assert.Equal(t, int64(1), eta(3*time.Second, 99, 100), "rounded up")
}
