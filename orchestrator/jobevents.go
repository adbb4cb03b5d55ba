package orchestrator

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/websoft9/stackhub/orchestrator/failpoint"
	"github.com/websoft9/stackhub/porter-mixin/events"
)

// JobEvent is one step of a job as clients watch it: a stage (queued,
// pulling with per-image progress, creating, starting, waiting, healthy,
// stopping, removing, done, failed, canceled), or a line of the bundle's log.
type JobEvent struct {
	// Seq numbers a job's events from 1, for resuming (SSE Last-Event-ID).
	Seq  int
	Time time.Time
	// Type is "stage" or "log".
	Type     string
	Stage    string
	Image    string
	Resource string
	Status   string
	Current  int64
	Total    int64
	// Files counted so far and the seconds left at the rate so far (0:
	// unknown), for backups and restores.
	Files      int64
	ETASeconds int64
	Message    string
	// Line is a log line (Type "log").
	Line string
}

// Stages the engine itself reports, besides the mixin's.
const (
	StageQueued   = "queued"
	StageHealthy  = "healthy"
	StageDone     = "done"
	StageFailed   = "failed"
	StageCanceled = "canceled"
)

// queued is the first event of every job.
var queued = JobEvent{Type: "stage", Stage: StageQueued}

// stageOf is the final stage of a run that ended with status.
func stageOf(status RunStatus) string {
	switch status {
	case RunSucceeded:
		return StageDone
	case RunFailed:
		return StageFailed
	case RunCanceled:
		return StageCanceled
	}
	return string(status)
}

// MaxLogLine bounds one line of a bundle's output as a job keeps and
// streams it: a longer line is cut there and marked.
const MaxLogLine = 16 << 10

// cutLine returns b as a line of at most MaxLogLine bytes (cut on a UTF-8
// boundary), marked when cut.
func cutLine(b []byte) string {
	if len(b) <= MaxLogLine {
		return string(b)
	}
	n := MaxLogLine
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return string(b[:n]) + " [line cut at 16 KiB]"
}

// maxJobEvents bounds what a job keeps in memory; log lines past it are
// dropped from the live feed (the run log keeps everything).
const maxJobEvents = 5000

// feed is one job's events: appended by the job, read by any number of
// watchers. It is safe for concurrent use.
type feed struct {
	mu      sync.Mutex
	events  []JobEvent
	closed  bool
	changed chan struct{}
	partial []byte
	// cutting: the line being read was cut; drop it up to its newline.
	cutting bool
}

func newFeed() *feed { return &feed{changed: make(chan struct{})} }

func (f *feed) add(e JobEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || (len(f.events) >= maxJobEvents && e.Type == "log") {
		return
	}
	e.Seq, e.Time = len(f.events)+1, time.Now()
	f.events = append(f.events, e)
	close(f.changed)
	f.changed = make(chan struct{})
}

// end adds the final stage and closes the feed.
func (f *feed) end(stage, message string) {
	f.add(JobEvent{Type: "stage", Stage: stage, Message: message})
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	close(f.changed)
	f.changed = make(chan struct{})
}

// Write splits the bundle's output into lines: event lines become stage
// events, the others log events.
func (f *feed) Write(p []byte) (int, error) {
	f.mu.Lock()
	f.partial = append(f.partial, p...)
	var lines []string
	for {
		i := bytes.IndexByte(f.partial, '\n')
		if i < 0 {
			break
		}
		if f.cutting { // the rest of a line already cut
			f.cutting = false
		} else {
			lines = append(lines, cutLine(f.partial[:i]))
		}
		f.partial = f.partial[i+1:]
	}
	if len(f.partial) > MaxLogLine {
		// A line without end: keep its start, drop the rest up to the
		// next newline, so that a bundle cannot grow this buffer.
		if !f.cutting {
			lines = append(lines, cutLine(f.partial))
			f.cutting = true
		}
		f.partial = f.partial[:0]
	}
	f.mu.Unlock()
	for _, line := range lines {
		f.line(line)
	}
	return len(p), nil
}

func (f *feed) line(line string) {
	line = strings.TrimRight(line, "\r")
	ev, ok := events.Parse(line)
	if !ok {
		if strings.TrimSpace(line) != "" {
			f.add(JobEvent{Type: "log", Line: line})
		}
		return
	}
	stage := string(ev.Stage)
	if ev.Stage == events.StageStarting {
		failpoint.Hit(failpoint.RunMidAction)
	}
	switch {
	case ev.Stage == events.StageBegin || ev.Stage == events.StageDone:
		return // the engine reports the job's own start and end
	case ev.Stage == events.StageFailed && ev.Resource == "" && ev.Image == "":
		return // the verb failed: the job's end says so
	case ev.Stage == events.StageWaiting && ev.Status == "Healthy":
		stage = StageHealthy
	}
	f.add(JobEvent{Type: "stage", Stage: stage, Image: ev.Image, Resource: ev.Resource, Status: ev.Status,
		Current: ev.Current, Total: ev.Total, Message: ev.Message})
}

func (f *feed) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

// since returns the events after seq, whether the feed is closed, and a
// channel closed at the next change.
func (f *feed) since(seq int) ([]JobEvent, bool, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if seq < 0 {
		seq = 0
	}
	var out []JobEvent
	if seq < len(f.events) {
		out = append(out, f.events[seq:]...)
	}
	return out, f.closed, f.changed
}

// feeds holds the feeds of running jobs and of the last finished ones.
type feeds struct {
	mu    sync.Mutex
	byID  map[string]*feed
	order []string
}

// keepFinished is how many finished jobs' feeds stay in memory.
const keepFinished = 200

func (fs *feeds) open(id string) *feed {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.byID == nil {
		fs.byID = map[string]*feed{}
	}
	f := newFeed()
	fs.byID[id] = f
	fs.order = append(fs.order, id)
	if len(fs.order) > keepFinished {
		// Forget the oldest finished feeds; running ones stay in order.
		keep := fs.order[:0]
		excess := len(fs.order) - keepFinished
		for _, old := range fs.order {
			if fd := fs.byID[old]; excess > 0 && (fd == nil || fd.isClosed()) {
				delete(fs.byID, old)
				excess--
				continue
			}
			keep = append(keep, old)
		}
		fs.order = keep
	}
	return f
}

func (fs *feeds) get(id string) *feed {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.byID[id]
}

// WatchJob calls fn with each event of job id after seq, as they come,
// until the job ends, ctx is done, or fn fails (its error is returned). A
// job whose feed is no longer in memory (finished long ago, or before a
// restart) gets one final event built from its record. Returns EINVALID or
// ENOTFOUND.
func (e *Engine) WatchJob(ctx context.Context, id string, seq int, fn func(JobEvent) error) error {
	if err := validateName("job", id); err != nil {
		return err
	}
	f := e.feeds.get(id)
	if f == nil {
		run, err := e.d.Runs.Run(ctx, id)
		if err != nil {
			return err
		}
		if seq > 0 {
			return nil
		}
		return fn(JobEvent{Seq: 1, Time: run.Finished, Type: "stage", Stage: stageOf(run.Status), Message: run.Message})
	}
	for {
		evs, closed, changed := f.since(seq)
		for _, ev := range evs {
			if err := fn(ev); err != nil {
				return err
			}
			seq = ev.Seq
		}
		if closed && len(evs) == 0 {
			return nil
		}
		if len(evs) > 0 {
			continue
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil
		}
	}
}

// CancelJob cancels a running job: the CNAB action is stopped, an install
// cleans up what it created and is recorded as canceled. Returns the run,
// ENOTFOUND, or ECONFLICT when the job is not running.
func (e *Engine) CancelJob(ctx context.Context, id string) (Run, error) {
	run, err := e.Run(ctx, id)
	if err != nil {
		return Run{}, err
	}
	if run.Status != RunRunning || !e.jobs.Cancel(id) {
		return run, Errorf(ECONFLICT, "job %s is not running (%s)", id, run.Status)
	}
	return run, nil
}
