package orchestrator

import (
	"testing"

	"github.com/cnabio/cnab-go/bundle"
	"github.com/stretchr/testify/assert"
)

func TestGenerateSecret(t *testing.T) {
	seen := map[string]bool{}
	counts := map[rune]int{}
	for range 200 {
		s := GenerateSecret(generatedLength)
		assert.Regexp(t, `^[A-Za-z0-9]{32}$`, s)
		assert.False(t, seen[s], "a repeated secret")
		seen[s] = true
		for _, r := range s {
			counts[r]++
		}
	}
	// 6400 characters over 62 symbols: every one shows up.
	assert.Len(t, counts, len(alphanumeric))
	assert.Len(t, GenerateSecret(5), 5)
}

func TestGenerateSecrets(t *testing.T) {
	app := App{Generate: []string{"db_password", "admin_password"}}
	got := generateSecrets(app)
	assert.Len(t, got, 2)
	assert.Len(t, got["db_password"], generatedLength)
	assert.NotEqual(t, got["db_password"], got["admin_password"])
	assert.Empty(t, generateSecrets(App{}))
}

func TestNewerVersion(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"5.1.3", "5.0.4", true},
		{"5.0.4", "5.1.3", false},
		{"1.10.0", "1.9.9", true},
		{"v2.0", "1.99", true},
		{"1.2", "1.2.0", false},
		{"1.2.1", "1.2", true},
		{"6.6.2-apache", "6.6.1-apache", true},
		{"0.1.0", "0.1.0", false},
		{"nightly", "0.1.0", true},
		{"", "0.1.0", false},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, NewerVersion(tc.a, tc.b), "%s > %s", tc.a, tc.b)
	}
}

func TestRelocationFor(t *testing.T) {
	bun := &bundle.Bundle{
		Images:           map[string]bundle.Image{"web": {BaseImage: bundle.BaseImage{Image: "docker.io/library/redmine:5.1.3"}}},
		InvocationImages: []bundle.InvocationImage{{BaseImage: bundle.BaseImage{Image: "example.com/redmine:porter-1"}}},
	}
	mapping := map[string]string{
		"docker.io/library/redmine:5.1.3": "local/redmine:5",
		"docker.io/library/mariadb:10.11": "local/mariadb:10",
	}
	assert.Equal(t, map[string]string{"docker.io/library/redmine:5.1.3": "local/redmine:5"}, relocationFor(bun, mapping))
	assert.Nil(t, relocationFor(bun, nil))
	assert.Nil(t, relocationFor(&bundle.Bundle{}, mapping))
}
