package portermixin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/porter-mixin/events"
)

// fakeExec records the exec commands it is given and answers each with the
// next of outputs and codes (0 and no output when they run out); err fails
// the call instead.
type fakeExec struct {
	calls   []ExecCommand
	plans   []Plan
	outputs []string
	codes   []int
	err     error
}

func (f *fakeExec) Exec(_ context.Context, p Plan, c ExecCommand, out io.Writer) (int, error) {
	i := len(f.calls)
	f.calls = append(f.calls, c)
	f.plans = append(f.plans, p)
	if f.err != nil {
		return 0, f.err
	}
	if i < len(f.outputs) {
		// In small pieces, as a stream arrives.
		for s := f.outputs[i]; s != ""; {
			n := min(len(s), 3)
			if _, err := out.Write([]byte(s[:n])); err != nil {
				return 0, err
			}
			s = s[n:]
		}
	}
	if i < len(f.codes) {
		return f.codes[i], nil
	}
	return 0, nil
}

const execStep = `install:
- websoft9:
    description: Start the demo app
    app: demo
    compose: docker-compose.yml
    main: web
    outputs: [{name: greeting, value: hi}]
    exec:
      - service: web
        command: [app, settings, --title, 5]
        passEnv: [SITE_TITLE]
        env: {MODE: first, COUNT: 2}
        user: www-data
      - service: db
        command: [db-admin, init]
`

func TestExecSpec_Decode(t *testing.T) {
	in, err := readStep(strings.NewReader(execStep), "install")
	require.NoError(t, err)
	assert.Empty(t, in.Unknown)
	require.Len(t, in.Step.Exec, 2)
	assert.Equal(t, ExecSpec{
		Service: "web", Command: Argv{"app", "settings", "--title", "5"}, PassEnv: []string{"SITE_TITLE"},
		Env: map[string]any{"MODE": "first", "COUNT": 2}, User: "www-data",
	}, in.Step.Exec[0])

	_, err = readStep(strings.NewReader("install:\n- websoft9:\n    app: a\n    exec: [{service: web, command: rails runner x}]\n"), "install")
	require.ErrorContains(t, err, `command must be a list of arguments, such as [rails, runner, "..."], not the string "rails runner x": no shell parses it`)
	_, err = readStep(strings.NewReader("install:\n- websoft9:\n    app: a\n    exec: [{service: web, command: [a, [b]]}]\n"), "install")
	require.ErrorContains(t, err, "command argument 2 must be a string")

	in, err = readStep(strings.NewReader("install:\n- websoft9:\n    app: a\n    exec: [{service: web, cmd: [ls], command: [ls]}]\n"), "install")
	require.NoError(t, err)
	assert.Equal(t, []string{"exec[1].cmd"}, in.Unknown)
}

func TestPlan_Exec(t *testing.T) {
	in, err := readStep(strings.NewReader(execStep), "install")
	require.NoError(t, err)
	title := "It's \"ours\": ${x} #1\nsecond line"
	getenv := func(k string) string { return map[string]string{"SITE_TITLE": title}[k] }
	p, err := in.Step.plan("install", "/cnab/app", getenv)
	require.NoError(t, err)
	assert.Equal(t, []ExecCommand{
		{Service: "web", Command: []string{"app", "settings", "--title", "5"}, Env: []string{"COUNT=2", "MODE=first", "SITE_TITLE=" + title}, User: "www-data"},
		{Service: "db", Command: []string{"db-admin", "init"}},
	}, p.Exec)
	assert.NotContains(t, p.Env, "SITE_TITLE", "an exec's passEnv is not the step's")

	for _, action := range []string{"uninstall", "start", "stop", "restart"} {
		p, err := in.Step.plan(action, "/cnab/app", getenv)
		require.NoError(t, err)
		assert.Empty(t, p.Exec, "%s runs no exec", action)
	}

	tests := []struct {
		name    string
		exec    ExecSpec
		wantErr string
	}{
		{"no service", ExecSpec{Command: Argv{"ls"}}, "exec 1: service is required"},
		{"no command", ExecSpec{Service: "web"}, "exec 1: command is required"},
		{"empty program", ExecSpec{Service: "web", Command: Argv{"", "x"}}, "exec 1: command is required"},
		{"bad passEnv", ExecSpec{Service: "web", Command: Argv{"ls"}, PassEnv: []string{"A-B"}}, `passEnv "A-B" is not an environment variable name`},
		{"passEnv twice", ExecSpec{Service: "web", Command: Argv{"ls"}, PassEnv: []string{"A", "A"}}, "passEnv A is listed twice"},
		{"passEnv in env", ExecSpec{Service: "web", Command: Argv{"ls"}, PassEnv: []string{"A"}, Env: map[string]any{"A": 1}}, "passEnv A is also in env"},
		{"bad env name", ExecSpec{Service: "web", Command: Argv{"ls"}, Env: map[string]any{"A=B": 1}}, `env "A=B" is not an environment variable name`},
		{"env not scalar", ExecSpec{Service: "web", Command: Argv{"ls"}, Env: map[string]any{"A": []any{1}}}, "env A: must be a scalar"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Step{App: "a", Compose: "c.yml", Main: "web", Exec: []ExecSpec{tc.exec}}
			_, err := s.plan("upgrade", "/cnab/app", noEnv)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
			assert.True(t, strings.HasPrefix(err.Error(), `upgrade step "": exec 1: `), err.Error())
		})
	}
}

func TestInstall_Exec(t *testing.T) {
	fake := &fakeCompose{}
	ex := &fakeExec{outputs: []string{"setting title\r\nsaved", "db ready\n"}}
	m, out := newTestMixin(t, execStep, fake)
	m.Exec = ex
	const title = "Secret-ish title"
	m.Getenv = func(k string) string { return map[string]string{"SITE_TITLE": title}[k] }
	require.NoError(t, m.Install(t.Context()))

	assert.Equal(t, []string{"up"}, fake.calls, "the project is up (and healthy) before any exec")
	require.Len(t, ex.calls, 2)
	assert.Equal(t, []string{"web", "db"}, []string{ex.calls[0].Service, ex.calls[1].Service}, "in list order")
	assert.Equal(t, "websoft9-demo", ex.plans[0].Project)
	assert.Contains(t, ex.calls[0].Env, "SITE_TITLE="+title)
	assert.Equal(t, "hi", readFile(t, m.OutputsDir+"/greeting"))

	text := out.String()
	assert.Contains(t, text, "websoft9: exec 1/2 in service web as www-data: app (3 arguments)\n"+
		"websoft9: web | setting title\n"+
		"websoft9: web | saved\n"+
		"websoft9: exec 1/2 in service web: exit code 0\n"+
		"websoft9: exec 2/2 in service db: db-admin (1 arguments)\n"+
		"websoft9: db | db ready\n")
	assert.NotContains(t, text, title, "passEnv values are never logged")
	assert.NotContains(t, text, "MODE=first", "nor the env")
	evs := eventLines(t, text)
	assert.Equal(t, events.StageOutputs, evs[len(evs)-2].Stage, "outputs after the execs")
	assert.Equal(t, events.StageDone, evs[len(evs)-1].Stage)
}

func TestInstall_ExecFails(t *testing.T) {
	var lines strings.Builder
	for i := 1; i <= 12; i++ {
		fmt.Fprintf(&lines, "line %d\n", i)
	}
	tests := []struct {
		name    string
		exec    *fakeExec
		calls   int
		wantErr string
	}{
		{"non-zero exit", &fakeExec{outputs: []string{"", lines.String() + "undefined method"}, codes: []int{0, 3}}, 2,
			"install step \"Start the demo app\": exec 2 in service db (db-admin) exited with code 3; its last lines:\n" +
				"line 4\nline 5\nline 6\nline 7\nline 8\nline 9\nline 10\nline 11\nline 12\nundefined method"},
		{"silent failure", &fakeExec{codes: []int{1}}, 1, "exec 1 in service web (app) exited with code 1; it printed nothing"},
		{"cannot run", &fakeExec{err: errors.New("service web of project websoft9-demo has no container")}, 1,
			"install step \"Start the demo app\": exec 1 in service web: service web of project websoft9-demo has no container"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, out := newTestMixin(t, execStep, &fakeCompose{})
			m.Exec = tc.exec
			err := m.Install(t.Context())
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
			assert.Len(t, tc.exec.calls, tc.calls, "the first failure stops the list")
			evs := eventLines(t, out.String())
			last := evs[len(evs)-1]
			assert.Equal(t, events.StageFailed, last.Stage)
			assert.Equal(t, err.Error(), last.Message)
			assert.NotContains(t, out.String(), "stage\":\"outputs", "no outputs after a failed exec")
		})
	}

	m, _ := newTestMixin(t, execStep, &fakeCompose{})
	require.ErrorContains(t, m.Install(t.Context()), "exec: this runtime cannot run commands in containers")
}

func TestExec_OnlyInstallAndUpgrade(t *testing.T) {
	ex := &fakeExec{}
	m, out := newTestMixin(t, strings.Replace(execStep, "install:", "upgrade:", 1), &fakeCompose{})
	m.Exec = ex
	require.NoError(t, m.Upgrade(t.Context()))
	assert.Len(t, ex.calls, 2, "upgrade runs the execs")
	assert.NotContains(t, out.String(), "warning")

	for _, action := range InvokeActions {
		ex := &fakeExec{}
		m, out := newTestMixin(t, action+":\n- websoft9:\n    app: demo\n    exec: [{service: web, command: [ls]}]\n", &fakeCompose{})
		m.Exec = ex
		require.NoError(t, m.Invoke(t.Context(), action))
		assert.Empty(t, ex.calls, action)
		assert.Contains(t, out.String(), "websoft9: warning: "+action+" step \"\": exec ignored: only install and upgrade run it\n")
	}
	ex = &fakeExec{}
	m, _ = newTestMixin(t, "uninstall:\n- websoft9:\n    app: demo\n    exec: [{service: web, command: [ls]}]\n", &fakeCompose{})
	m.Exec = ex
	require.NoError(t, m.Uninstall(t.Context()))
	assert.Empty(t, ex.calls)
}

func TestExecOutput(t *testing.T) {
	var w bytes.Buffer
	o := &execOutput{w: &w, prefix: "p | "}
	long := strings.Repeat("x", execMaxLine+5)
	for _, chunk := range []string{"a", "b\nc\r\n", "\n", long, "\nend"} {
		n, err := o.Write([]byte(chunk))
		require.NoError(t, err)
		assert.Equal(t, len(chunk), n)
	}
	// A line is written once it is whole, or cut at the bound; a last line
	// without newline waits for flush.
	want := []string{"ab", "c", "", long[:execMaxLine], "xxxxx"}
	written := func() []string { return strings.Split(strings.TrimSuffix(w.String(), "\n"), "\n") }
	got := written()
	require.Len(t, got, len(want))
	for i := range want {
		assert.True(t, got[i] == "p | "+want[i], "line %d: %.40q…", i, got[i])
	}
	require.NoError(t, o.flush())
	assert.Equal(t, "p | end", written()[len(want)])
	require.NoError(t, o.flush())
	assert.Len(t, written(), len(want)+1, "flush writes a partial line once")
	assert.Equal(t, append(want, "end"), o.tail)
}

func TestCheckExecServices(t *testing.T) {
	project := &types.Project{
		Services:         types.Services{"web": {Name: "web"}, "db": {Name: "db"}},
		DisabledServices: types.Services{"worker": {Name: "worker"}},
	}
	require.NoError(t, checkExecServices(project, []ExecCommand{{Service: "db"}, {Service: "web"}}))
	require.EqualError(t, checkExecServices(project, []ExecCommand{{Service: "web"}, {Service: "cache"}}),
		`exec 2: service "cache" is not a service of the compose model (services: db, web)`)
	require.ErrorContains(t, checkExecServices(project, []ExecCommand{{Service: "worker"}}),
		`exec 1: service "worker" is not brought up by this step`)
}
