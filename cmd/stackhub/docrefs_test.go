package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// docRef is a Markdown document named in a file: a path or a bare name.
var docRef = regexp.MustCompile(`[A-Za-z0-9_./-]*[A-Za-z0-9_-]+\.md\b`)

// externalDocs are documents of other projects, cited with their
// repository on the same line.
var externalDocs = map[string]string{
	"101-bundle-json.md": "cnab-spec", "103-bundle-runtime.md": "cnab-spec", "104-bundle-formats.md": "cnab-spec",
	"400-claims.md": "cnab-spec", "500-CNAB-dependencies.md": "cnab-spec", "804-well-known-custom-actions.md": "cnab-spec",
}

// machinePath is a path on a developer's or CI's machine: no document may
// point a reader there.
var machinePath = regexp.MustCompile(`(^|[\s("'\x60])/work/`)

// TestDocReferences: every Markdown document a file of the repository
// names (a comment's "see porter-compat.md §2", a README link) exists in
// the repository: beside the file, from the root, in docs/ or in bench/. In-image
// paths (/cnab/app/…), URLs and string literals of tests are not
// references; another project's document counts when its repository is
// named on the line. The reference documents in docs/ cite other projects'
// files as "repo path" throughout (they say so): they are targets, not
// sources. No file names a machine's own paths.
func TestDocReferences(t *testing.T) {
	root := "../.."
	out, err := exec.CommandContext(t.Context(), "git", "-C", root, "ls-files").Output()
	require.NoError(t, err)
	checked := 0
	for _, file := range strings.Fields(string(out)) {
		if !textFile(file) || strings.HasPrefix(file, "docs/") && file != "docs/README.md" {
			continue
		}
		data, err := os.ReadFile(path.Join(root, file))
		require.NoError(t, err)
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			if m := machinePath.FindString(line); m != "" && !strings.HasSuffix(file, "_test.go") {
				t.Errorf("%s:%d names a machine's path: %s", file, n, strings.TrimSpace(line))
			}
			for _, loc := range docRef.FindAllStringIndex(line, -1) {
				ref := line[loc[0]:loc[1]]
				before := line[:loc[0]]
				switch {
				case strings.HasPrefix(ref, "/"), strings.HasSuffix(before, "://"), strings.Contains(before, "http"),
					strings.HasSuffix(before, `"`) && strings.HasSuffix(file, ".go"):
					continue
				}
				if repo, ok := externalDocs[path.Base(ref)]; ok && strings.Contains(line, repo) {
					continue
				}
				checked++
				if !docExists(root, path.Dir(file), ref) {
					t.Errorf("%s:%d names %s, which is not in the repository (beside it, from the root, in docs/ or bench/)", file, n, ref)
				}
			}
		}
	}
	require.Greater(t, checked, 20, "the references were found")
}

func textFile(name string) bool {
	for _, ext := range []string{".go", ".md", ".yaml", ".yml", ".sh", ".js", ".html", ".css"} {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return path.Base(name) == "Makefile" || strings.HasPrefix(name, ".ci/")
}

func docExists(root, dir, ref string) bool {
	for _, p := range []string{path.Join(root, dir, ref), path.Join(root, ref), path.Join(root, "docs", path.Base(ref)),
		path.Join(root, "bench", path.Base(ref))} {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return true
		}
	}
	return false
}
