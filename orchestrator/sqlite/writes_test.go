package sqlite

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryWriteEndsTheSnapshot holds the read model's rule: a function that
// writes through d.db (ExecContext, or BeginTx without ReadOnly) also calls
// d.changed(), or readers would go on serving what it replaced.
func TestEveryWriteEndsTheSnapshot(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			writes, changed := false, false
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				switch exprString(call.Fun) {
				case "d.db.ExecContext":
					writes = true
				case "d.db.BeginTx":
					if len(call.Args) < 2 || !strings.Contains(exprString(call.Args[1]), "ReadOnly") {
						writes = true
					}
				case "d.changed":
					changed = true
				}
				return true
			})
			if writes {
				checked++
				if !changed {
					t.Errorf("%s: %s writes through d.db without calling d.changed()", fset.Position(fn.Pos()), fn.Name.Name)
				}
			}
		}
	}
	if checked < 10 {
		t.Fatalf("found %d writing functions: the check no longer sees them", checked)
	}
}

func exprString(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return exprString(e.X) + "." + e.Sel.Name
	case *ast.UnaryExpr:
		return exprString(e.X)
	case *ast.CompositeLit:
		var b strings.Builder
		for _, el := range e.Elts {
			if kv, ok := el.(*ast.KeyValueExpr); ok {
				b.WriteString(exprString(kv.Key) + " ")
			}
		}
		return b.String()
	}
	return ""
}
