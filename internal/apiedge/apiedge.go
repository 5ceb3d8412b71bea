// Package apiedge lists the exported entry points of a package that take
// a context or options, so that each package's edge test can check that
// its table of nil-input cases covers all of them (see the "Nil contexts
// and options" section of the package docs). It is test plumbing: only
// _test.go files import it.
package apiedge

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

// A Kind says why an entry point is listed; an entry can have several.
type Kind uint8

const (
	// Context: a parameter is a context.Context, or an interface that
	// embeds it (actor.Context).
	Context Kind = 1 << iota
	// Options: the last parameter is a variadic list of a type whose name
	// ends in "Option".
	Options
	// NilValue: an option constructor (its one result's type name ends in
	// "Option") with a parameter that can be nil: a pointer, function,
	// interface, map or channel (for a variadic one, its elements).
	NilValue
)

func (k Kind) String() string {
	var parts []string
	for _, n := range []struct {
		k    Kind
		name string
	}{{Context, "context"}, {Options, "options"}, {NilValue, "nil-value option"}} {
		if k&n.k != 0 {
			parts = append(parts, n.name)
		}
	}
	return strings.Join(parts, "+")
}

// Scan type-checks the package in dir (its non-test files) and returns its
// exported functions, methods of exported types and methods of exported
// interfaces that take a context or options, by name: "F", "T.M" or
// "I.M" (type parameters left out).
func Scan(dir string) (map[string]Kind, error) {
	fset := token.NewFileSet()
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []*ast.File
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, 0)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("apiedge: no Go files in %s", dir)
	}
	exports, err := exportData(dir)
	if err != nil {
		return nil, err
	}
	conf := types.Config{Importer: importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		f, ok := exports[path]
		if !ok {
			return nil, fmt.Errorf("apiedge: no export data for %q", path)
		}
		return os.Open(f)
	})}
	pkg, err := conf.Check(files[0].Name.Name, fset, files, nil)
	if err != nil {
		return nil, fmt.Errorf("apiedge: type-checking %s: %w", dir, err)
	}
	ctxType, err := contextInterface(pkg)
	if err != nil {
		return nil, err
	}
	out := map[string]Kind{}
	add := func(name string, sig *types.Signature) {
		if k := classify(sig, ctxType); k != 0 {
			out[name] = k
		}
	}
	scope := pkg.Scope()
	for _, n := range scope.Names() {
		obj := scope.Lookup(n)
		if !obj.Exported() {
			continue
		}
		switch obj := obj.(type) {
		case *types.Func:
			add(n, obj.Type().(*types.Signature))
		case *types.TypeName:
			named, ok := obj.Type().(*types.Named)
			if !ok {
				continue
			}
			if it, ok := named.Underlying().(*types.Interface); ok {
				for i := range it.NumExplicitMethods() {
					m := it.ExplicitMethod(i)
					if m.Exported() {
						add(n+"."+m.Name(), m.Type().(*types.Signature))
					}
				}
				continue
			}
			for i := range named.NumMethods() {
				m := named.Method(i)
				if m.Exported() {
					add(n+"."+m.Name(), m.Type().(*types.Signature))
				}
			}
		}
	}
	return out, nil
}

// exportData returns the export data files of the dependencies of the
// package in dir, from "go list -export" (built or taken from the build
// cache), so that only the package itself is type-checked from source.
func exportData(dir string) (map[string]string, error) {
	cmd := exec.Command(goTool(), "list", "-export", "-deps", "-f", "{{.ImportPath}}\t{{.Export}}", ".")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("apiedge: go list -export in %s: %w\n%s", dir, err, stderr.Bytes())
	}
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if path, file, ok := strings.Cut(line, "\t"); ok && file != "" {
			m[path] = file
		}
	}
	return m, nil
}

// goTool returns the go command of the running toolchain.
func goTool() string {
	if root := runtime.GOROOT(); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "go"
}

// contextInterface finds context.Context among pkg's imports (nil if
// the package does not import context).
func contextInterface(pkg *types.Package) (*types.Interface, error) {
	var find func(p *types.Package, seen map[*types.Package]bool) *types.Interface
	find = func(p *types.Package, seen map[*types.Package]bool) *types.Interface {
		if seen[p] {
			return nil
		}
		seen[p] = true
		if p.Path() == "context" {
			return p.Scope().Lookup("Context").Type().Underlying().(*types.Interface)
		}
		for _, q := range p.Imports() {
			if it := find(q, seen); it != nil {
				return it
			}
		}
		return nil
	}
	return find(pkg, map[*types.Package]bool{}), nil
}

func classify(sig *types.Signature, ctxType *types.Interface) Kind {
	var k Kind
	params := sig.Params()
	for i := range params.Len() {
		t := params.At(i).Type()
		if ctxType != nil {
			if it, ok := t.Underlying().(*types.Interface); ok && types.Implements(it, ctxType) {
				k |= Context
			}
		}
	}
	if sig.Variadic() {
		last := params.At(params.Len() - 1).Type().(*types.Slice).Elem()
		if isOption(last) {
			k |= Options
		}
	}
	if res := sig.Results(); res.Len() == 1 && isOption(res.At(0).Type()) {
		for i := range params.Len() {
			t := params.At(i).Type()
			if sig.Variadic() && i == params.Len()-1 {
				t = t.(*types.Slice).Elem()
			}
			if nilable(t) {
				k |= NilValue
			}
		}
	}
	return k
}

func isOption(t types.Type) bool {
	n, ok := t.(*types.Named)
	return ok && strings.HasSuffix(n.Obj().Name(), "Option")
}

func nilable(t types.Type) bool {
	switch t.Underlying().(type) {
	case *types.Pointer, *types.Signature, *types.Interface, *types.Map, *types.Chan:
		return true
	}
	return false
}

// Rule is the paragraph every package doc with entry points that take a
// context or options states, word for word, under the heading "Nil
// contexts and options".
const Rule = `A nil [context.Context] is treated as [context.Background]: no call
panics or fails because of it, and a call that waits for its context
waits as long as it takes. A nil option in an option list is skipped,
and so is an option given a nil value (a nil logger, clock, function,
store or injector), as if it were left out.`

// CheckDoc reports whether the package doc of the package in dir states
// Rule (line breaks and the comment markers aside).
func CheckDoc(dir string) error {
	fset := token.NewFileSet()
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var doc strings.Builder
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		if f.Doc != nil {
			doc.WriteString(f.Doc.Text())
		}
	}
	text := strings.Join(strings.Fields(doc.String()), " ")
	if text == "" {
		return fmt.Errorf("apiedge: %s has no package doc", dir)
	}
	if !strings.Contains(text, "# Nil contexts and options") {
		return fmt.Errorf("apiedge: the package doc of %s has no section \"Nil contexts and options\"", dir)
	}
	if !strings.Contains(text, strings.Join(strings.Fields(Rule), " ")) {
		return fmt.Errorf("apiedge: the package doc of %s does not state the rule in its words:\n%s", dir, Rule)
	}
	return nil
}

// Diff compares the entry points of the package in dir with the names a
// table covers. It returns the ones the table misses (with their kinds)
// and the table's names that are not entry points.
func Diff(dir string, covered []string) (missing, extra []string, err error) {
	api, err := Scan(dir)
	if err != nil {
		return nil, nil, err
	}
	have := map[string]bool{}
	for _, n := range covered {
		have[n] = true
		if _, ok := api[n]; !ok {
			extra = append(extra, n)
		}
	}
	for n, k := range api {
		if !have[n] {
			missing = append(missing, n+" ("+k.String()+")")
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	return missing, extra, nil
}

// TB is the part of testing.TB that Complete uses.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
	Fatal(args ...any)
}

// Complete fails t unless covered names exactly the entry points of the
// package in dir that take a context or options, and the package doc
// states Rule. It is the body of every package's TestNilEdgesComplete.
func Complete(t TB, dir string, covered []string) {
	t.Helper()
	missing, extra, err := Diff(dir, covered)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range missing {
		t.Errorf("nilEdges misses %s: add a case", m)
	}
	for _, x := range extra {
		t.Errorf("nilEdges lists %s, which takes no context or options", x)
	}
	if err := CheckDoc(dir); err != nil {
		t.Errorf("%v", err)
	}
}
