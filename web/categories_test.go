package web

import (
	"io/fs"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/web/console"
)

// TestCategoryMessages keeps the console's category names equal to
// orchestrator.Categories, the one list of them: the console shows a
// bundle's category key by its name in the reader's language.
func TestCategoryMessages(t *testing.T) {
	message := regexp.MustCompile(`(?m)^\s*'category\.([^']+)': '([^']*)',`)
	for lang, file := range map[string]string{"en": "messages-en.js", "zh": "messages-zh.js"} {
		src, err := fs.ReadFile(console.FS(), file)
		require.NoError(t, err)
		got := map[string]string{}
		for _, m := range message.FindAllStringSubmatch(string(src), -1) {
			got[m[1]] = m[2]
		}
		want := map[string]string{}
		for _, c := range orchestrator.Categories {
			want[c.Key] = c.En
			if lang == "zh" {
				want[c.Key] = c.Zh
			}
		}
		assert.Equal(t, want, got, "%s: category.<key> messages", file)
	}
}
