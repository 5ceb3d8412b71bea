package scn

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// MaxLineLen is the longest line, in bytes and without its line ending,
// that [Parse] accepts. Longer lines give a [*SyntaxError].
const MaxLineLen = 64 << 10

// A SyntaxError reports a scenario that breaks a rule of the `.scn`
// language. Every error that [Parse] returns for a readable input is a
// *SyntaxError; find it with [errors.As].
type SyntaxError struct {
	// Line is the 1-based number of the offending line, or 0 when the
	// error concerns the file as a whole (a missing header).
	Line int
	// Msg describes the problem.
	Msg string
}

// Error returns "line N: Msg", or Msg alone when Line is 0.
func (e *SyntaxError) Error() string {
	if e.Line == 0 {
		return e.Msg
	}
	return "line " + strconv.Itoa(e.Line) + ": " + e.Msg
}

// ParseFile reads and parses the `.scn` file at path. Errors are prefixed
// with path; a [*SyntaxError] is still found by [errors.As].
func ParseFile(path string) (*Scenario, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// Parse reads a `.scn` scenario from r and parses it.
//
// It returns a [*SyntaxError] when the text breaks a rule of FORMAT.md
// section 1, and the reader's error, wrapped, when reading fails. It reads
// r to the end (or to the first error) and does not close it.
func Parse(r io.Reader) (*Scenario, error) {
	p := &parser{
		decl: make(map[string]*Child),
		seen: make(map[string]bool),
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxLineLen+2) // +2: room for "\r\n"
	sc.Split(scanLines)
	for sc.Scan() {
		p.line++
		text := strings.TrimSuffix(sc.Text(), "\r")
		if len(text) > MaxLineLen {
			return nil, p.errorf("line longer than %d bytes", MaxLineLen)
		}
		if err := p.parseLine(text); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			p.line++
			return nil, p.errorf("line longer than %d bytes", MaxLineLen)
		}
		return nil, fmt.Errorf("scn: reading: %w", err)
	}
	return p.finish()
}

// scanLines splits on "\n" alone. Unlike [bufio.ScanLines] it keeps a
// "\r" before the "\n", so that Parse removes exactly one trailing "\r"
// from every line, the last one included.
func scanLines(data []byte, atEOF bool) (advance int, token []byte, err error) {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// Sections of a file, in the order they must come.
const (
	sectionHeader = iota
	sectionChildren
	sectionSteps
)

// parser holds the state of one Parse call.
type parser struct {
	line    int               // current 1-based line
	section int               // furthest section reached so far
	seen    map[string]bool   // header keys seen so far
	s       Scenario          // result under construction
	decl    map[string]*Child // static child specs by path
}

// errorf returns a *SyntaxError for the current line.
func (p *parser) errorf(format string, args ...any) *SyntaxError {
	return &SyntaxError{Line: p.line, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) parseLine(text string) error {
	if i := strings.IndexByte(text, '#'); i >= 0 {
		text = text[:i]
	}
	toks := strings.FieldsFunc(text, func(r rune) bool { return r == ' ' || r == '\t' })
	if len(toks) == 0 {
		return nil
	}
	key, args := toks[0], toks[1:]
	switch key {
	case "strategy", "intensity", "period", "auto_shutdown":
		return p.parseHeader(key, args)
	case "child":
		if p.section > sectionChildren {
			return p.errorf("child lines must come before step lines")
		}
		p.section = sectionChildren
		return p.parseChildLine(args)
	case "step":
		p.section = sectionSteps
		return p.parseStep(args)
	}
	return p.errorf("unknown directive %q (want strategy, intensity, period, auto_shutdown, child or step)", key)
}

func (p *parser) parseHeader(key string, args []string) error {
	if p.section != sectionHeader {
		return p.errorf("header %q must come before child and step lines", key)
	}
	if p.seen[key] {
		return p.errorf("duplicate header %q", key)
	}
	p.seen[key] = true
	if len(args) != 1 {
		return p.errorf("header %q takes exactly one argument, got %d", key, len(args))
	}
	var err error
	switch key {
	case "strategy":
		p.s.Strategy, err = p.strategy(args[0])
	case "intensity":
		p.s.Intensity, err = p.integer(args[0], 0)
	case "period":
		p.s.Period, err = p.integer(args[0], 1)
	case "auto_shutdown":
		p.s.AutoShutdown, err = p.autoShutdown(args[0])
	}
	return err
}

func (p *parser) parseChildLine(args []string) error {
	c, err := p.parseChildDef(args, false)
	if err != nil {
		return err
	}
	if p.decl[c.Path] != nil {
		return p.errorf("duplicate child %q (first declared on line %d)", c.Path, p.decl[c.Path].Line)
	}
	parent, _ := SplitPath(c.Path)
	if parent == "" {
		p.s.Children = append(p.s.Children, c)
	} else {
		ps := p.decl[parent]
		if ps == nil || ps.Supervisor == nil {
			return p.errorf("child %q: parent %q is not a previously declared supervisor child", c.Path, parent)
		}
		ps.Children = append(ps.Children, c)
	}
	p.decl[c.Path] = c
	return nil
}

// parseChildDef parses `PATH RESTART SHUTDOWN option*` and checks the rules
// of FORMAT.md 1.3 that concern one spec alone. dynamic is true for the spec
// of a start_child step.
func (p *parser) parseChildDef(args []string, dynamic bool) (*Child, error) {
	if len(args) < 3 {
		return nil, p.errorf("child spec needs PATH RESTART SHUTDOWN [OPTION...]")
	}
	path, err := p.path(args[0])
	if err != nil {
		return nil, err
	}
	c := &Child{Line: p.line, Path: path}
	_, c.ID = SplitPath(path)
	if c.Restart, err = p.restart(args[1]); err != nil {
		return nil, err
	}
	if c.Shutdown, err = p.shutdown(args[2]); err != nil {
		return nil, err
	}

	opts := args[3:]
	seen := make(map[string]bool)
	auto := ""
	for len(opts) > 0 {
		opt := opts[0]
		if seen[opt] {
			return nil, p.errorf("repeated option %q", opt)
		}
		seen[opt] = true
		switch opt {
		case "significant":
			c.Significant = true
			opts = opts[1:]
		case "stubborn":
			c.Stubborn = true
			opts = opts[1:]
		case "fail_starts":
			if len(opts) < 2 {
				return nil, p.errorf("option fail_starts needs a list like 2 or 2,3,4")
			}
			if c.FailStarts, err = p.intList(opts[1]); err != nil {
				return nil, err
			}
			opts = opts[2:]
		case "supervisor":
			if len(opts) < 4 {
				return nil, p.errorf("option supervisor needs STRATEGY INTENSITY PERIOD")
			}
			sup := &SupSpec{}
			if sup.Strategy, err = p.strategy(opts[1]); err != nil {
				return nil, err
			}
			if sup.Intensity, err = p.integer(opts[2], 0); err != nil {
				return nil, err
			}
			if sup.Period, err = p.integer(opts[3], 1); err != nil {
				return nil, err
			}
			c.Supervisor = sup
			opts = opts[4:]
		case "auto_shutdown":
			if len(opts) < 2 {
				return nil, p.errorf("option auto_shutdown needs never, any_significant or all_significant")
			}
			if auto, err = p.autoShutdown(opts[1]); err != nil {
				return nil, err
			}
			opts = opts[2:]
		default:
			return nil, p.errorf("unknown child option %q", opt)
		}
	}

	switch {
	case dynamic && c.Supervisor != nil:
		return nil, p.errorf("start_child cannot add a supervisor child")
	case c.Supervisor == nil && auto != "":
		return nil, p.errorf("option auto_shutdown needs option supervisor")
	case c.Supervisor != nil && c.Shutdown.Kind != Infinity:
		return nil, p.errorf("supervisor child %q must have shutdown infinity (anything else races, see FORMAT.md 1.3)", c.Path)
	case c.Supervisor != nil && c.Stubborn:
		return nil, p.errorf("supervisor child %q cannot be stubborn", c.Path)
	case c.Stubborn && c.Shutdown.Kind == Infinity:
		return nil, p.errorf("stubborn child %q cannot have shutdown infinity: it would hang its supervisor", c.Path)
	case c.Supervisor == nil && !c.Stubborn && c.Shutdown.Kind == ShutdownMillis && c.Shutdown.Millis < 100:
		return nil, p.errorf("worker %q needs shutdown >= 100 ms, brutal_kill or infinity unless stubborn (its exit would race the kill timer)", c.Path)
	}
	if c.Supervisor != nil {
		c.Supervisor.AutoShutdown = "never"
		if auto != "" {
			c.Supervisor.AutoShutdown = auto
		}
	}
	return c, nil
}

func (p *parser) parseStep(args []string) error {
	if len(args) == 0 {
		return p.errorf("step needs an action")
	}
	op, args := args[0], args[1:]
	st := Step{Line: p.line, Op: op}
	nargs := func(min, max int) error {
		if len(args) < min || len(args) > max {
			switch {
			case max == 0:
				return p.errorf("step %s takes no argument", op)
			case min == max:
				return p.errorf("step %s takes %d argument(s), got %d", op, min, len(args))
			default:
				return p.errorf("step %s takes at most %d argument(s), got %d", op, max, len(args))
			}
		}
		return nil
	}
	var err error
	switch op {
	case "crash":
		if err = nargs(2, 2); err != nil {
			return err
		}
		if st.Path, err = p.stepPath(args[0]); err != nil {
			return err
		}
		switch args[1] {
		case "normal", "shutdown", "error", "kill":
			st.Reason = args[1]
		default:
			return p.errorf("crash reason %q: want normal, shutdown, error or kill", args[1])
		}
	case "terminate_child", "restart_child", "delete_child":
		if err = nargs(1, 1); err != nil {
			return err
		}
		if st.Path, err = p.stepPath(args[0]); err != nil {
			return err
		}
	case "which_children", "count_children":
		if err = nargs(0, 1); err != nil {
			return err
		}
		if len(args) == 1 {
			if st.Path, err = p.path(args[0]); err != nil {
				return err
			}
			if err = p.supervisorPath(st.Path, op); err != nil {
				return err
			}
		}
	case "start_child":
		if st.Child, err = p.parseChildDef(args, true); err != nil {
			return err
		}
		st.Path = st.Child.Path
		if parent, _ := SplitPath(st.Path); parent != "" {
			if err = p.supervisorPath(parent, op); err != nil {
				return err
			}
		}
	case "sleep":
		if err = nargs(1, 1); err != nil {
			return err
		}
		if st.Millis, err = p.integer(args[0], 0); err != nil {
			return err
		}
	case "stop":
		if err = nargs(0, 0); err != nil {
			return err
		}
	default:
		return p.errorf("unknown step %q", op)
	}
	p.s.Steps = append(p.s.Steps, st)
	return nil
}

// stepPath parses the PATH of a crash, terminate_child, restart_child or
// delete_child step. The call goes to the parent of the path, so that
// parent must be the top level or a declared supervisor child; otherwise the
// step could only fail when run.
func (p *parser) stepPath(tok string) (string, error) {
	path, err := p.path(tok)
	if err != nil {
		return "", err
	}
	if parent, _ := SplitPath(path); parent != "" {
		if err := p.supervisorPath(parent, "step"); err != nil {
			return "", err
		}
	}
	return path, nil
}

// supervisorPath checks that path names a declared supervisor child.
func (p *parser) supervisorPath(path, what string) error {
	if c := p.decl[path]; c == nil || c.Supervisor == nil {
		return p.errorf("%s: %q is not a declared supervisor child", what, path)
	}
	return nil
}

func (p *parser) finish() (*Scenario, error) {
	for _, key := range []string{"strategy", "intensity", "period"} {
		if !p.seen[key] {
			return nil, &SyntaxError{Msg: fmt.Sprintf("missing header %q", key)}
		}
	}
	if p.s.AutoShutdown == "" {
		p.s.AutoShutdown = "never"
	}
	s := p.s
	return &s, nil
}

// path checks that tok is a PATH: NAMEs ([a-z][a-z0-9_]*) joined by dots.
func (p *parser) path(tok string) (string, error) {
	for name := range strings.SplitSeq(tok, ".") {
		if !isName(name) {
			return "", p.errorf("bad child path %q (want [a-z][a-z0-9_]* names joined by dots)", tok)
		}
	}
	return tok, nil
}

func isName(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		b := s[i]
		if !('a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '_') {
			return false
		}
	}
	return true
}

// integer parses a decimal INT (digits only, no sign) that must be >= min.
func (p *parser) integer(tok string, min int) (int, error) {
	for i := 0; i < len(tok); i++ {
		if tok[i] < '0' || tok[i] > '9' {
			return 0, p.errorf("%q is not a decimal integer", tok)
		}
	}
	n, err := strconv.Atoi(tok)
	if err != nil {
		// Only an empty token or an overflow gets here.
		return 0, p.errorf("%q is not an integer in range", tok)
	}
	if n < min {
		return 0, p.errorf("%q must be an integer >= %d", tok, min)
	}
	return n, nil
}

// intList parses an INTLIST such as "2" or "2,3,4", each element >= 1. The
// result is sorted and without duplicates, as the oracle stores it.
func (p *parser) intList(tok string) ([]int, error) {
	var ns []int
	for elem := range strings.SplitSeq(tok, ",") {
		if elem == "" {
			return nil, p.errorf("bad list %q (want integers joined by commas, like 2,3,4)", tok)
		}
		n, err := p.integer(elem, 1)
		if err != nil {
			return nil, err
		}
		ns = append(ns, n)
	}
	slices.Sort(ns)
	return slices.Compact(ns), nil
}

func (p *parser) strategy(tok string) (string, error) {
	switch tok {
	case "one_for_one", "one_for_all", "rest_for_one":
		return tok, nil
	}
	return "", p.errorf("bad strategy %q: want one_for_one, one_for_all or rest_for_one", tok)
}

func (p *parser) autoShutdown(tok string) (string, error) {
	switch tok {
	case "never", "any_significant", "all_significant":
		return tok, nil
	}
	return "", p.errorf("bad auto_shutdown %q: want never, any_significant or all_significant", tok)
}

func (p *parser) restart(tok string) (string, error) {
	switch tok {
	case "permanent", "transient", "temporary":
		return tok, nil
	}
	return "", p.errorf("bad restart type %q: want permanent, transient or temporary", tok)
}

func (p *parser) shutdown(tok string) (Shutdown, error) {
	switch tok {
	case "brutal_kill":
		return Shutdown{Kind: BrutalKill}, nil
	case "infinity":
		return Shutdown{Kind: Infinity}, nil
	}
	n, err := p.integer(tok, 0)
	if err != nil {
		return Shutdown{}, p.errorf("bad shutdown %q: want an integer >= 0, brutal_kill or infinity", tok)
	}
	return Shutdown{Kind: ShutdownMillis, Millis: n}, nil
}
