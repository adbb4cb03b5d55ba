package manifest

import (
	"fmt"
	"strings"
)

// Level says whether a finding stops a build.
type Level string

// Finding levels.
const (
	// LevelError marks a problem Porter or StackHub refuses, or one that makes
	// every run of the action fail.
	LevelError Level = "error"
	// LevelWarning marks something accepted but probably wrong or ignored.
	LevelWarning Level = "warning"
)

// Finding is one problem in a porter.yaml, located by line and field.
type Finding struct {
	Level Level `json:"level"`
	// File is the bundle file the finding is in, relative to the bundle
	// directory; "" for porter.yaml.
	File string `json:"file,omitempty"`
	// Line and Column are 1-based positions in File; 0 when unknown.
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
	// Field is the path of the offending field, e.g. parameters[1].type or
	// install[0].websoft9; "" for the document as a whole.
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
	// Source is who found it: "" for the manifest checks, else a mixin name.
	Source string `json:"source,omitempty"`
	// Code is a mixin's code for the finding (e.g. websoft9-100), if any.
	Code string `json:"code,omitempty"`
}

// String formats f as "line N: field: message".
func (f Finding) String() string {
	var b strings.Builder
	if f.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", f.Line)
	}
	if f.Field != "" {
		b.WriteString(f.Field)
		b.WriteString(": ")
	}
	b.WriteString(f.Message)
	return b.String()
}

// ParseError is the error Parse returns: every error-level finding of the
// file, in file order.
type ParseError struct {
	Findings []Finding
}

// Error lists the findings, one per line, each prefixed with porter.yaml.
func (e *ParseError) Error() string {
	lines := make([]string, len(e.Findings))
	for i, f := range e.Findings {
		lines[i] = "porter.yaml " + f.String()
		if f.Line == 0 {
			lines[i] = "porter.yaml: " + f.String()
		}
	}
	return strings.Join(lines, "\n")
}

// HasErrors reports whether findings hold an error-level finding.
func HasErrors(findings []Finding) bool {
	for _, f := range findings {
		if f.Level == LevelError {
			return true
		}
	}
	return false
}
