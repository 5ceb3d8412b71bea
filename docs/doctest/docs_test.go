// Package doctest checks that the Go code in the README and in docs/*.md
// compiles, so the docs cannot drift from the API without a failing test.
//
// # The rule every ```go block follows
//
// A block whose first line that is not blank or a comment starts with
// "package" is a whole file. It is compiled as it is, alone in its own
// package, so it carries its own imports (and a main function if it is
// package main).
//
// Any other block is a fragment: top-level declarations (types, functions,
// methods, variables, constants), optionally followed by statements. The
// statements become the body of
//
//	func _(ctx context.Context) error {
//		<statements>
//		return nil
//	}
//
// so they may use ctx and return an error. The fragment's imports are
// inferred: each name of knownImports that the fragment uses without
// declaring it is imported (the troupe packages, common standard library
// packages and x/sync's errgroup; a fragment that needs another package
// must be a whole file). Every block compiles on its own: it cannot use what another
// block declares.
//
// A block must type-check and pass go vet, except vet's unreachable check
// (a fragment may end in a return, which makes the wrapper's return nil
// unreachable).
//
// A block preceded by the line <!-- fragment --> is not compiled, but only
// if its code appears line for line (indentation aside) in a _test.go file
// or in a file under examples/, of the module or of a module that the
// repository's go.work uses (the adapter modules prom/ and otel/, and
// examples/observe): it quotes code that is compiled and run there. That
// is how the docs show code that imports an adapter module, which the
// main module cannot compile. Prefer blocks that compile.
//
// # How
//
// TestDocCodeBlocksCompile writes each block as a package in a temporary
// directory under testdata/ (inside the main module, so no go.mod and no
// network are needed; the test removes it), with //line directives that
// map every position back to the markdown file, and runs one go vet over
// all of them with the go binary of runtime.GOROOT(). A block that does not
// compile fails the test with its file and line.
package doctest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/parser"
	"go/scanner"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// knownImports are the packages a fragment may use without importing
// them, by the name it refers to them with.
var knownImports = map[string]string{
	"actor":      "github.com/troupe-go/troupe/actor",
	"supervisor": "github.com/troupe-go/troupe/supervisor",
	"strategy":   "github.com/troupe-go/troupe/strategy",
	"mailbox":    "github.com/troupe-go/troupe/mailbox",
	"pipeline":   "github.com/troupe-go/troupe/pipeline",
	"observe":    "github.com/troupe-go/troupe/observe",
	"treeview":   "github.com/troupe-go/troupe/treeview",
	"zap":        "go.uber.org/zap",
	"errgroup":   "golang.org/x/sync/errgroup",

	"atomic":  "sync/atomic",
	"bytes":   "bytes",
	"context": "context",
	"errors":  "errors",
	"fmt":     "fmt",
	"http":    "net/http",
	"io":      "io",
	"iter":    "iter",
	"log":     "log",
	"maps":    "maps",
	"os":      "os",
	"rand":    "math/rand/v2",
	"signal":  "os/signal",
	"slices":  "slices",
	"slog":    "log/slog",
	"strconv": "strconv",
	"strings": "strings",
	"sync":    "sync",
	"syscall": "syscall",
	"time":    "time",
}

// fragmentMarker, alone on the line before a block, exempts a block that
// quotes tested code (see the package doc).
const fragmentMarker = "<!-- fragment -->"

// A block is one ```go block of a markdown file.
type block struct {
	doc    string // the markdown file, relative to the module root
	line   int    // line of the block's first code line in doc (1-based)
	code   string
	marked bool // preceded by fragmentMarker
}

func (b block) String() string { return fmt.Sprintf("%s:%d", b.doc, b.line) }

// TestDocCodeBlocksCompile compiles every ```go block of README.md and
// docs/*.md by the rule of the package doc. A failure names the block's
// file and line, and vet's messages carry positions in that file.
func TestDocCodeBlocksCompile(t *testing.T) {
	root := moduleRoot(t)
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	docs = append([]string{filepath.Join(root, "README.md")}, docs...)

	var blocks []block
	for _, d := range docs {
		src, err := os.ReadFile(d)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, d)
		bs, err := extractBlocks(filepath.ToSlash(rel), src)
		if err != nil {
			t.Error(err)
			continue
		}
		blocks = append(blocks, bs...)
	}
	if len(blocks) == 0 {
		t.Fatal("no ```go blocks found in README.md and docs/*.md")
	}

	var quotes *quoteIndex
	var check []block
	for _, b := range blocks {
		if !b.marked {
			check = append(check, b)
			continue
		}
		if quotes == nil {
			quotes = indexTestedCode(t, root)
		}
		if !quotes.contains(b.code) {
			t.Errorf("%s: block marked %s, but its code is not in any _test.go file or examples/ file; make it compile instead", b, fragmentMarker)
		}
	}
	for _, p := range compileBlocks(t, root, check) {
		t.Error(p)
	}
}

// TestBrokenBlockIsReported checks the checker: a block that does not
// compile is reported with its markdown file and line, and a good block
// next to it is not reported.
func TestBrokenBlockIsReported(t *testing.T) {
	root := moduleRoot(t)
	md := "# fake\n\n```go\nfmt.Println(\"fine\")\n```\n\nText.\n\n```go\nn := 1\nfmt.Println(undefinedName)\n```\n"
	blocks, err := extractBlocks("docs/fake.md", []byte(md))
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 2 || blocks[0].line != 4 || blocks[1].line != 10 {
		t.Fatalf("extractBlocks: got %v; want blocks at docs/fake.md:4 and :10", blocks)
	}
	problems := compileBlocks(t, root, blocks)
	if len(problems) != 1 {
		t.Fatalf("got %d problems; want 1 (the second block):\n%s", len(problems), strings.Join(problems, "\n"))
	}
	for _, want := range []string{"docs/fake.md:10:", "fake.md:11", "undefinedName"} {
		if !strings.Contains(problems[0], want) {
			t.Errorf("problem report lacks %q:\n%s", want, problems[0])
		}
	}
}

// TestSplitFragment pins how a fragment is cut into declarations and
// statements.
func TestSplitFragment(t *testing.T) {
	cases := []struct {
		name, code   string
		decls, stmts int // number of lines in each part
	}{
		{"statements only", "x := 1\n_ = x", 0, 2},
		{"a top-level var is a declaration", "var x = 1\nfmt.Println(x)", 1, 1},
		{"declarations only", "type T struct{}\n\nfunc (T) M() {}", 3, 0},
		{"both", "type T struct{ n int }\n\nfunc (t *T) Inc() { t.n++ }\n\nt := &T{}\nt.Inc()", 4, 2},
		{"multi-line statement", "type T int\nx := []T{\n\t1,\n}\n_ = x", 1, 4},
	}
	for _, c := range cases {
		decls, stmts, err := splitFragment(c.code)
		if err != nil {
			t.Errorf("%s: got error %v; want a split", c.name, err)
			continue
		}
		if len(decls) != c.decls || len(stmts) != c.stmts {
			t.Errorf("%s: got %d declaration lines and %d statement lines; want %d and %d", c.name, len(decls), len(stmts), c.decls, c.stmts)
		}
	}
	if _, _, err := splitFragment("func {"); err == nil {
		t.Errorf("splitFragment(%q): got nil error; want a syntax error", "func {")
	}
}

// moduleRoot returns the directory of the main module's go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// extractBlocks returns the ```go blocks of a markdown file. A fence is
// ``` or ~~~ (or longer), indented at most three spaces; it closes at a
// line of the same character, at least as long, with nothing after it.
func extractBlocks(doc string, src []byte) ([]block, error) {
	var (
		blocks    []block
		inFence   bool
		fence     string // the opening fence's run of ` or ~
		isGo      bool
		cur       block
		code      []string
		prevLine  string // last non-blank line outside a fence
		openedAt  int
		lineNum   int
		lineScan  = bufio.NewScanner(bytes.NewReader(src))
		maxLength = 1 << 20
	)
	lineScan.Buffer(make([]byte, 0, 64*1024), maxLength)
	for lineScan.Scan() {
		lineNum++
		line := lineScan.Text()
		trimmed := strings.TrimLeft(line, " ")
		indent := len(line) - len(trimmed)
		if !inFence {
			if indent <= 3 && (strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~")) {
				c := trimmed[:1]
				n := len(trimmed) - len(strings.TrimLeft(trimmed, c))
				info := strings.Fields(trimmed[n:])
				inFence, fence, openedAt = true, trimmed[:n], lineNum
				isGo = len(info) > 0 && info[0] == "go"
				cur = block{doc: doc, line: lineNum + 1, marked: strings.TrimSpace(prevLine) == fragmentMarker}
				code = code[:0]
				continue
			}
			if strings.TrimSpace(line) != "" {
				prevLine = line
			}
			continue
		}
		if indent <= 3 && strings.HasPrefix(trimmed, fence) && strings.TrimSpace(strings.TrimLeft(trimmed, fence[:1])) == "" {
			inFence = false
			prevLine = line
			if isGo {
				cur.code = strings.Join(code, "\n") + "\n"
				blocks = append(blocks, cur)
			}
			continue
		}
		code = append(code, line)
	}
	if err := lineScan.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v", doc, err)
	}
	if inFence {
		return nil, fmt.Errorf("%s:%d: code fence %s is never closed", doc, openedAt, fence)
	}
	return blocks, nil
}

// isWholeFile reports whether code starts with a package clause (after
// blank lines and comments).
func isWholeFile(code string) bool {
	_, err := parser.ParseFile(token.NewFileSet(), "", code, parser.PackageClauseOnly)
	return err == nil
}

// splitFragment cuts a fragment into its leading top-level declarations
// and the statements after them, taking the longest prefix of lines that
// parses as declarations while the rest parses as a function body.
func splitFragment(code string) (decls, stmts []string, err error) {
	lines := strings.Split(strings.TrimRight(code, "\n"), "\n")
	for i := len(lines); i >= 0; i-- {
		if parsesAsDecls(lines[:i]) && parsesAsBody(lines[i:]) {
			return lines[:i], lines[i:], nil
		}
	}
	// Report the error of reading it all as statements, or all as
	// declarations, whichever got further.
	_, errS := parser.ParseFile(token.NewFileSet(), "", "package p\nfunc _() {\n"+strings.Join(lines, "\n")+"\n}\n", 0)
	_, errD := parser.ParseFile(token.NewFileSet(), "", "package p\n"+strings.Join(lines, "\n")+"\n", 0)
	lineOf := func(err error) int {
		if l, ok := err.(scanner.ErrorList); ok && len(l) > 0 {
			return l[0].Pos.Line
		}
		return 0
	}
	if errD != nil && lineOf(errD)+1 > lineOf(errS) { // the body starts one line later
		return nil, nil, shiftErr(errD, 1)
	}
	return nil, nil, shiftErr(errS, 2)
}

// shiftErr rewrites a parse error's first position to a line of the
// fragment: the wrapper added lead lines before it.
func shiftErr(err error, lead int) error {
	if l, ok := err.(scanner.ErrorList); ok && len(l) > 0 {
		return fmt.Errorf("line %d of the block: %s", l[0].Pos.Line-lead, l[0].Msg)
	}
	return err
}

func parsesAsDecls(lines []string) bool {
	_, err := parser.ParseFile(token.NewFileSet(), "", "package p\n"+strings.Join(lines, "\n")+"\n", parser.SkipObjectResolution)
	return err == nil
}

func parsesAsBody(lines []string) bool {
	if len(lines) == 0 {
		return true
	}
	_, err := parser.ParseFile(token.NewFileSet(), "", "package p\nfunc _() {\n"+strings.Join(lines, "\n")+"\n}\n", parser.SkipObjectResolution)
	return err == nil
}

// source returns the Go file that checks b, with //line directives that
// map its positions to b's markdown file (absolute, so tools print a path
// that works from anywhere).
func source(root string, b block) (string, error) {
	docPath := filepath.Join(root, filepath.FromSlash(b.doc))
	if isWholeFile(b.code) {
		return fmt.Sprintf("//line %s:%d\n%s", docPath, b.line, b.code), nil
	}
	decls, stmts, err := splitFragment(b.code)
	if err != nil {
		return "", err
	}
	var body strings.Builder
	if len(decls) > 0 {
		fmt.Fprintf(&body, "//line %s:%d\n%s\n", docPath, b.line, strings.Join(decls, "\n"))
	}
	if len(stmts) > 0 {
		fmt.Fprintf(&body, "\nfunc _(ctx context.Context) error {\n//line %s:%d\n%s\n\treturn nil\n}\n",
			docPath, b.line+len(decls), strings.Join(stmts, "\n"))
	}

	// The package names the code uses but does not declare.
	f, err := parser.ParseFile(token.NewFileSet(), "", "package doc\n"+body.String(), 0)
	if err != nil {
		return "", err
	}
	var imports []string
	for _, id := range f.Unresolved {
		if imp, ok := knownImports[id.Name]; ok && !slices.Contains(imports, imp) {
			imports = append(imports, imp)
		}
	}
	slices.Sort(imports)

	var out strings.Builder
	fmt.Fprintf(&out, "// Code generated by TestDocCodeBlocksCompile from %s. DO NOT EDIT.\n\npackage doc\n\n", b)
	if len(imports) > 0 {
		out.WriteString("import (\n")
		for _, p := range imports {
			fmt.Fprintf(&out, "\t%q\n", p)
		}
		out.WriteString(")\n\n")
	}
	out.WriteString(body.String())
	return out.String(), nil
}

// compileBlocks writes each block as a package under a temporary
// directory in testdata/, runs go vet on all of them at once, and returns
// one report per block that does not compile.
func compileBlocks(t *testing.T, root string, blocks []block) []string {
	t.Helper()
	testdata := filepath.Join(root, "docs", "doctest", "testdata")
	if err := os.MkdirAll(testdata, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(testdata, "blocks-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(tmp); err != nil {
			t.Error(err)
		}
		_ = os.Remove(testdata) // only if empty: another run may use it
	})

	var problems []string
	var pkgs []string
	byPkg := map[string]block{} // the directory's base name → its block
	for i, b := range blocks {
		src, err := source(root, b)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: ```go block does not parse by the rule of docs/doctest (a whole file, or declarations then statements): %v", b, err))
			continue
		}
		name := fmt.Sprintf("b%03d", i)
		dir := filepath.Join(tmp, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "block.go"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, dir)
		pkgs = append(pkgs, "./"+filepath.ToSlash(rel))
		byPkg[name] = b
	}
	if len(pkgs) == 0 {
		return problems
	}

	ctx := context.Background()
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-5*time.Second))
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, goTool(t), append([]string{"vet", "-unreachable=false"}, pkgs...)...)
	cmd.Dir = root
	// Everything needed is in the module cache: never reach the network,
	// never touch go.mod.
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=readonly")
	out, err := cmd.CombinedOutput()
	if err == nil {
		return problems
	}

	// go vet prints "# import/path" (or "# [import/path]") before the
	// messages of each package.
	sections := map[string][]string{}
	var stray []string
	cur := ""
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if strings.HasPrefix(line, "# ") {
			cur = path.Base(strings.Trim(strings.TrimSpace(line[2:]), "[]"))
			continue
		}
		if _, ok := byPkg[cur]; ok {
			sections[cur] = append(sections[cur], line)
		} else {
			stray = append(stray, line)
		}
	}
	names := make([]string, 0, len(sections))
	for name := range sections {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		b := byPkg[name]
		problems = append(problems, fmt.Sprintf("%s: ```go block does not compile (see docs/doctest for the rule):\n\t%s",
			b, strings.Join(sections[name], "\n\t")))
	}
	if len(sections) == 0 || len(stray) > 0 && strings.TrimSpace(strings.Join(stray, "")) != "" {
		problems = append(problems, fmt.Sprintf("go vet on the doc blocks: %v\n%s", err, out))
	}
	return problems
}

// goTool returns the go command of the toolchain that built the test.
func goTool(t *testing.T) string {
	t.Helper()
	name := "go"
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	if root := runtime.GOROOT(); root != "" {
		p := filepath.Join(root, "bin", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command: runtime.GOROOT() is %q and go is not on PATH", runtime.GOROOT())
	}
	return p
}

// A quoteIndex holds the code that a block marked <!-- fragment --> may
// quote: the lines of every _test.go file and of every Go file under
// examples/, of the module and of the modules its go.work uses, trimmed
// of their indentation.
type quoteIndex struct{ files [][]string }

func indexTestedCode(t *testing.T, root string) *quoteIndex {
	t.Helper()
	q := &quoteIndex{}
	used, err := workspaceModules(root)
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(root, func(file string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if file != root && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			if file != root {
				rel, _ := filepath.Rel(root, file)
				if _, err := os.Stat(filepath.Join(file, "go.mod")); err == nil && !used[filepath.ToSlash(rel)] {
					return filepath.SkipDir // another module, not in the workspace
				}
			}
			return nil
		}
		rel, _ := filepath.Rel(root, file)
		rel = filepath.ToSlash(rel)
		if !strings.HasSuffix(rel, ".go") || !strings.HasSuffix(rel, "_test.go") && !strings.HasPrefix(rel, "examples/") {
			return nil
		}
		src, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		q.files = append(q.files, trimLines(string(src)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// contains reports whether code's non-blank run of lines appears in one
// of the indexed files, indentation aside.
func (q *quoteIndex) contains(code string) bool {
	want := trimLines(code)
	for len(want) > 0 && want[0] == "" {
		want = want[1:]
	}
	for len(want) > 0 && want[len(want)-1] == "" {
		want = want[:len(want)-1]
	}
	if len(want) == 0 {
		return false
	}
	for _, f := range q.files {
		for i := 0; i+len(want) <= len(f); i++ {
			if slices.Equal(f[i:i+len(want)], want) {
				return true
			}
		}
	}
	return false
}

func trimLines(s string) []string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return lines
}

// workspaceModules returns the directories, relative to root and in slash
// form, of the modules that root/go.work uses ("." for root itself); none
// if there is no go.work.
func workspaceModules(root string) (map[string]bool, error) {
	src, err := os.ReadFile(filepath.Join(root, "go.work"))
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, err
	}
	return parseUse(string(src)), nil
}

// parseUse returns the directories of the use directives of a go.work
// file, cleaned ("./prom" is "prom"): both "use dir" and "use ( dirs )".
func parseUse(src string) map[string]bool {
	used := map[string]bool{}
	inBlock := false
	for _, line := range strings.Split(src, "\n") {
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case inBlock && f[0] == ")":
			inBlock = false
		case inBlock:
			used[path.Clean(strings.Trim(f[0], `"`))] = true
		case f[0] == "use" && len(f) >= 2 && f[1] == "(":
			inBlock = true
		case f[0] == "use" && len(f) >= 2:
			used[path.Clean(strings.Trim(f[1], `"`))] = true
		}
	}
	return used
}

func TestParseUse(t *testing.T) {
	got := parseUse("go 1.26.0\n\nuse (\n\t.\n\t./prom // the adapter\n\t\"./examples/observe\"\n)\n\nuse ./otel\n")
	want := []string{".", "examples/observe", "otel", "prom"}
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, want) {
		t.Errorf("parseUse: got %v; want %v", keys, want)
	}
}

// TestQuotesReachWorkspaceModules: a marked block may quote the tests and
// examples of the modules go.work uses (code compiled and run there), not
// their library code.
func TestQuotesReachWorkspaceModules(t *testing.T) {
	root := moduleRoot(t)
	used, err := workspaceModules(root)
	if err != nil {
		t.Fatal(err)
	}
	if !used["otel"] || !used["examples/observe"] {
		t.Skipf("go.work does not use otel and examples/observe: %v", used)
	}
	q := indexTestedCode(t, root)
	for _, quote := range []string{
		"reg, err := troupeotel.Register(sys, troupeotel.WithMeterProvider(mp))", // otel/example_test.go
		"if err := reg.Register(prom.NewCollector(sys)); err != nil {",           // examples/observe/main.go
	} {
		if !q.contains(quote) {
			t.Errorf("the index lacks %q", quote)
		}
	}
	if quote := "func (b *builder) def(name string) (observe.Metric, bool) {"; q.contains(quote) { // otel/metrics.go
		t.Errorf("the index has library code of otel: %q", quote)
	}
}
