// Package events is the progress-event wire format shared by the websoft9
// mixin, which prints event lines, and the engine, which turns them into job
// events. It imports only the standard library, so the engine can read
// events without pulling in the compose SDK; keep it that way.
package events

import (
	"encoding/json"
	"strings"
)

// Prefix starts every progress line the runtime verbs print on stdout.
// A line is
//
//	::websoft9-event::{"stage":"pulling","image":"nginx:1.27","current":1048576,"total":4194304}
//
// that is, Prefix immediately followed by one JSON object (an Event) and
// a newline. Any other stdout line is a human log line. The prefix cannot
// occur in compose's own messages, which the mixin prints as
// "websoft9: <resource> <status>" lines.
const Prefix = "::websoft9-event::"

// Stage is what an event reports. The set is closed: a reader may treat an
// unknown stage as a log line.
type Stage string

const (
	// StageBegin opens a verb: Action and App are set.
	StageBegin Stage = "begin"
	// StagePulling reports pull progress of one image: Image, and Current
	// and Total in bytes summed over the image's layers so far (Total may
	// grow as layers are discovered and is 0 while unknown).
	StagePulling Stage = "pulling"
	// StagePulled says Image is present (pulled, or already local).
	StagePulled Stage = "pulled"
	// StageCreating, StageStarting, StageWaiting, StageStopping and
	// StageRemoving report a compose resource (Resource, e.g.
	// "Container websoft9-blog") changing state; Status is compose's word for
	// it (Creating, Created, Recreated, Started, Waiting, Healthy, Stopped,
	// Removed, …).
	StageCreating Stage = "creating"
	StageStarting Stage = "starting"
	StageWaiting  Stage = "waiting"
	StageStopping Stage = "stopping"
	StageRemoving Stage = "removing"
	// StageOutputs says the step's outputs were written (Message lists
	// their names).
	StageOutputs Stage = "outputs"
	// StageDone closes a verb that succeeded: Action and App are set.
	StageDone Stage = "done"
	// StageFailed closes a verb that failed (Action, App, Message), or
	// reports a failed resource (Resource, Message) before that.
	StageFailed Stage = "failed"
)

// Event is one progress report. Fields that do not apply to a stage are
// omitted from the JSON; an absent number means 0.
type Event struct {
	Stage    Stage  `json:"stage"`
	Action   string `json:"action,omitempty"`
	App      string `json:"app,omitempty"`
	Image    string `json:"image,omitempty"`
	Resource string `json:"resource,omitempty"`
	Status   string `json:"status,omitempty"`
	Current  int64  `json:"current,omitempty"`
	Total    int64  `json:"total,omitempty"`
	Message  string `json:"message,omitempty"`
}

// Format returns e as one line: Prefix, compact JSON, "\n".
// Newlines inside strings are escaped by JSON, so the line never breaks.
func Format(e Event) []byte {
	b, _ := json.Marshal(e) // cannot fail: strings and integers only
	line := make([]byte, 0, len(Prefix)+len(b)+1)
	line = append(line, Prefix...)
	line = append(line, b...)
	return append(line, '\n')
}

// Parse reports whether line (with or without its trailing newline)
// is an event line, and decodes it. A line with the prefix but malformed
// JSON is not an event.
func Parse(line string) (Event, bool) {
	rest, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), Prefix)
	if !ok {
		return Event{}, false
	}
	var e Event
	if err := json.Unmarshal([]byte(rest), &e); err != nil || e.Stage == "" {
		return Event{}, false
	}
	return e, true
}
