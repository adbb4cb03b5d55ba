package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/mattn/go-runewidth"
	"golang.org/x/term"
)

// cancelGrace bounds how long a command keeps following a job after
// Ctrl-C has asked the server to cancel it.
const cancelGrace = 60 * time.Second

// waitJob follows job id until it ends, showing its events on view, and
// returns the job as recorded. When ctx ends while waiting (Ctrl-C), it
// asks the server to cancel the job (DELETE /api/v1/jobs/{id}) and keeps
// following for up to cancelGrace, so that the outcome, normally
// "canceled", is what it returns; after that it gives up with ctx's error
// and the job winds down on the server alone.
func waitJob(ctx context.Context, c *Client, id string, view *progressView) (Job, error) {
	type result struct {
		job Job
		err error
	}
	done := make(chan result, 1)
	follow, stop := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stop()
	wg.Go(func() {
		job, err := c.FollowJob(follow, id, view.Event, func(attempt int, err error) {
			view.Note(fmt.Sprintf("connection lost (%v); reconnecting, attempt %d of %d", err, attempt, c.Reconnects))
		})
		done <- result{job, err}
	})
	select {
	case r := <-done:
		return r.job, r.err
	case <-ctx.Done():
	}
	view.Note("interrupted: asking the server to cancel job " + id)
	cctx, cancel := context.WithTimeout(follow, 15*time.Second)
	_, err := c.CancelJob(cctx, id)
	cancel()
	if err != nil && exitCode(err) != exitConflict { // 409: it has just ended
		view.Note("cannot cancel job " + id + ": " + err.Error())
	}
	grace := time.NewTimer(cancelGrace)
	defer grace.Stop()
	select {
	case r := <-done:
		return r.job, r.err
	case <-grace.C:
		stop()
		<-done
		return Job{}, fmt.Errorf("job %s still winding down %s after the cancel request: %w", id, cancelGrace, ctx.Err())
	}
}

// terminalWidth returns, for a terminal, a function reading its width
// now (it may be resized while a job runs); nil when w is no terminal.
func terminalWidth(w io.Writer) func() int {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return func() int {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
			return cols
		}
		return defaultWidth
	}
}

// defaultWidth is a terminal's width when it cannot be read.
const defaultWidth = 80

// keepLogLines is how many of a job's last log lines a view keeps to show
// when the job fails.
const keepLogLines = 20

// progressView shows a job's events to a person on w: on a terminal one
// line rewritten in place (the stage, and a bar of the bytes pulled for an
// image), otherwise one plain line per step (pull progress at most every
// quarter). Log lines are not shown but the last ones are kept (Tail). It
// is safe for concurrent use.
type progressView struct {
	w   io.Writer
	tty bool
	// width returns the terminal's width in columns.
	width func() int
	label string

	mu    sync.Mutex
	drawn string
	pulls map[string]int64 // image → the last quarter printed (plain lines)
	tail  []string
}

// newProgressView returns a view on w labelled label (e.g. "install
// blog"); on a terminal its line fits the terminal's width.
func newProgressView(w io.Writer, label string) *progressView {
	width := terminalWidth(w)
	return &progressView{w: w, tty: width != nil, width: width, label: label, pulls: map[string]int64{}}
}

// Event shows ev. It never fails; its signature fits FollowJob.
func (p *progressView) Event(ev JobEvent) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ev.Type == "log" {
		p.tail = append(p.tail, ev.Line)
		if len(p.tail) > keepLogLines {
			p.tail = p.tail[len(p.tail)-keepLogLines:]
		}
		return nil
	}
	text := describeEvent(ev)
	if p.tty {
		p.draw(text)
		return nil
	}
	if ev.Stage == "pulling" {
		q := int64(0)
		if ev.Total > 0 {
			q = min(ev.Current*4/ev.Total, 4)
		}
		if last, seen := p.pulls[ev.Image]; seen && q <= last {
			return nil
		}
		p.pulls[ev.Image] = q
	}
	fmt.Fprintf(p.w, "%s: %s\n", p.label, text)
	return nil
}

// Note prints msg on a line of its own, above the progress line.
func (p *progressView) Note(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.drawn != "" {
		fmt.Fprintf(p.w, "\r\033[K%s\n%s", msg, p.drawn)
		return
	}
	fmt.Fprintln(p.w, msg)
}

// Close clears the progress line.
func (p *progressView) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.drawn != "" {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = ""
	}
}

// Tail returns the job's last log lines.
func (p *progressView) Tail() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.tail...)
}

// draw rewrites the progress line, cut to one column less than the
// terminal (a full line would wrap at the last column), counting wide
// characters (CJK) as two columns.
func (p *progressView) draw(text string) {
	width := defaultWidth
	if p.width != nil {
		width = p.width()
	}
	line := strings.NewReplacer("\n", " ", "\r", " ", "\t", " ").Replace(p.label + ": " + text)
	p.drawn = runewidth.Truncate(line, max(width-1, 1), "…")
	fmt.Fprint(p.w, "\r\033[K"+p.drawn)
}

// describeEvent is a stage event in a few words, e.g. "pulling
// nginx:1.27 [#####---------------]  25% 10.0/40.0 MiB" or "creating
// Container websoft9-blog Created".
func describeEvent(ev JobEvent) string {
	switch ev.Stage {
	case "pulling":
		return "pulling " + ev.Image + " " + pullBar(ev.Current, ev.Total)
	case "pulled":
		return "pulled " + ev.Image
	case "backing-up", "restoring":
		if ev.Total > 0 && ev.Resource == "" {
			s := ev.Stage + " " + pullBar(ev.Current, ev.Total)
			if ev.Files > 0 {
				s += fmt.Sprintf(", %d files", ev.Files)
			}
			if ev.ETASeconds > 0 {
				s += ", about " + (time.Duration(ev.ETASeconds) * time.Second).String() + " left"
			}
			return s
		}
	}
	words := []string{ev.Stage}
	for _, w := range []string{ev.Image, ev.Resource, ev.Status} {
		if w != "" && !strings.EqualFold(w, ev.Stage) {
			words = append(words, w)
		}
	}
	s := strings.Join(words, " ")
	if ev.Message != "" {
		s += ": " + ev.Message
	}
	return s
}

// pullBar draws bytes pulled of total as a bar, or the bytes alone while
// the total is unknown (sizes in binary units, go-humanize's IBytes).
func pullBar(current, total int64) string {
	if total <= 0 {
		return humanize.IBytes(uint64(max(current, 0)))
	}
	const width = 20
	current = min(max(current, 0), total)
	filled := int(current * width / total)
	return fmt.Sprintf("[%s%s] %3d%% %s/%s", strings.Repeat("#", filled), strings.Repeat("-", width-filled),
		current*100/total, humanize.IBytes(uint64(current)), humanize.IBytes(uint64(total)))
}

// JobError says a job ended without success: failed or canceled. It
// makes stackhub exit 1.
type JobError struct{ Job Job }

func (e *JobError) Error() string {
	msg := fmt.Sprintf("%s %s %s", e.Job.Action, e.Job.App, e.Job.Status)
	if e.Job.Message != "" {
		msg += ": " + e.Job.Message
	}
	return msg
}
