package orchestrator

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/websoft9/stackhub/porter-mixin/naming"
)

var (
	// fuzzDockerName is the grammar of Docker container names (moby
	// daemon/names.go RestrictedNamePattern).
	fuzzDockerName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)
	// fuzzServiceName is the grammar of compose service names (compose-spec).
	fuzzServiceName = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)
)

// FuzzContainerNames checks that validateName accepts what naming.ValidateApp
// accepts (FuzzAppName holds that to the documented rule) and refuses with
// EINVALID naming the field, and, for accepted names, the container names an
// install plans: one per service, valid for Docker, at most 128 bytes,
// sorted and distinct, owned by the installation, the main one equal to what
// the API shows.
func FuzzContainerNames(f *testing.F) {
	for _, s := range []string{"demo", "a", strings.Repeat("a", 63), strings.Repeat("a", 64), "", "-x", "Demo", "a_b",
		"../x", "a b", "foo-db", "websoft9-x", "x\n", "аpp"} {
		f.Add(s, "foo", "web,db", uint8(0))
	}
	f.Add("foo", "foo-db", "db,web", uint8(2))
	f.Add("x", "y", "app,app,cache,.hidden,_x,UPPER", uint8(1))
	f.Fuzz(func(t *testing.T, name, other, services string, main uint8) {
		for _, n := range []string{name, other} {
			err := validateName("appName", n)
			if want := naming.ValidateApp(n) == nil; (err == nil) != want {
				t.Fatalf("validateName(%q) = %v, want accepted=%t", n, err, want)
			}
			if err != nil && (ErrorCode(err) != EINVALID || !strings.Contains(ErrorMessage(err), "appName")) {
				t.Fatalf("validateName(%q) refuses with code %q, message %q: want %s naming appName", n, ErrorCode(err), ErrorMessage(err), EINVALID)
			}
		}
		if validateName("appName", name) != nil {
			return
		}

		// Services as the catalog reads them from a compose file: valid
		// compose names, each once, sorted.
		var app App
		for s := range strings.SplitSeq(services, ",") {
			if fuzzServiceName.MatchString(s) && len(s) <= 55 && !slices.Contains(app.Services, s) {
				app.Services = append(app.Services, s)
			}
		}
		slices.Sort(app.Services)
		if i := int(main); i < len(app.Services) {
			app.Main = app.Services[i]
		}

		got := ContainerNames(name, app)
		if len(got) != len(app.Services) {
			t.Fatalf("ContainerNames(%q, %q) = %q: want one per service", name, app.Services, got)
		}
		if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
			t.Fatalf("ContainerNames(%q, %q) = %q: want sorted and distinct", name, app.Services, got)
		}
		mainName := Installation{Name: name}.MainContainer()
		if mainName != naming.MainContainer(name) {
			t.Fatalf("installation %q shows main container %q, want %q", name, mainName, naming.MainContainer(name))
		}
		for _, c := range got {
			if len(c) > 128 || !fuzzDockerName.MatchString(c) {
				t.Fatalf("installation %q plans container %q, which Docker refuses", name, c)
			}
			if c != mainName && !strings.HasPrefix(c, mainName+"-") {
				t.Fatalf("installation %q plans container %q, which it does not own", name, c)
			}
		}
		if hasMain := slices.Contains(got, mainName); hasMain != (app.Main != "") {
			t.Fatalf("ContainerNames(%q, services %q, main %q) = %q: main container present=%t", name, app.Services, app.Main, got, hasMain)
		}
	})
}
