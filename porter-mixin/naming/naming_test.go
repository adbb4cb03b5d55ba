package naming

import (
	"strings"
	"testing"
)

func TestValidateApp(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"demo", true},
		{"a", true},
		{"0redmine-2", true},
		{strings.Repeat("a", 63), true},
		{strings.Repeat("a", 64), false},
		{"", false},
		{"-demo", false},
		{"Demo", false},
		{"demo_1", false},
		{"demo;rm -rf /", false},
		{"<script>", false},
		{"demo\n", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateApp(tc.name)
			if (err == nil) != tc.ok {
				t.Fatalf("ValidateApp(%q) = %v, want ok=%v", tc.name, err, tc.ok)
			}
		})
	}
}

func TestNames(t *testing.T) {
	if got, want := Project("demo"), "websoft9-demo"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got, want := Container("demo", "web", true), "websoft9-demo"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got, want := Container("demo", "db", false), "websoft9-demo-db"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
