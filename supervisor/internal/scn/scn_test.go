package scn_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/troupe-go/troupe/supervisor/internal/scn"
)

// otpDir holds the conformance scenarios, relative to this package.
const otpDir = "../../testdata/otp"

func mustParse(t *testing.T, text string) *scn.Scenario {
	t.Helper()
	s, err := scn.Parse(strings.NewReader(text))
	if err != nil {
		t.Fatalf("Parse: %v\ninput:\n%s", err, text)
	}
	return s
}

// withoutLines returns a deep copy of s with every Line field zeroed, so
// that scenarios parsed from different text can be compared.
func withoutLines(s *scn.Scenario) *scn.Scenario {
	c := *s
	c.Children = cloneChildren(s.Children)
	c.Steps = slices.Clone(s.Steps)
	for i := range c.Steps {
		c.Steps[i].Line = 0
		if ch := c.Steps[i].Child; ch != nil {
			c.Steps[i].Child = cloneChildren([]*scn.Child{ch})[0]
		}
	}
	return &c
}

func cloneChildren(kids []*scn.Child) []*scn.Child {
	if kids == nil {
		return nil
	}
	out := make([]*scn.Child, len(kids))
	for i, k := range kids {
		c := *k
		c.Line = 0
		c.FailStarts = slices.Clone(k.FailStarts)
		if k.Supervisor != nil {
			sup := *k.Supervisor
			c.Supervisor = &sup
		}
		c.Children = cloneChildren(k.Children)
		out[i] = &c
	}
	return out
}

// checkRoundTrip fails unless s prints to text that parses back to s.
func checkRoundTrip(t testing.TB, s *scn.Scenario) {
	t.Helper()
	text := s.String()
	s2, err := scn.Parse(strings.NewReader(text))
	if err != nil {
		t.Fatalf("Parse(String()) = %v\ntext:\n%s", err, text)
	}
	if text2 := s2.String(); text2 != text {
		t.Fatalf("String() is not a fixed point:\nfirst:\n%s\nsecond:\n%s", text, text2)
	}
	if a, b := withoutLines(s), withoutLines(s2); !reflect.DeepEqual(a, b) {
		t.Fatalf("round trip changed the scenario:\nbefore: %#v\nafter:  %#v", a, b)
	}
	// The line numbers of the re-parsed text follow its layout: headers,
	// then children, then steps, one per line.
	line := 3
	if s2.AutoShutdown != "never" {
		line++
	}
	for c := range s2.All() {
		line++
		if c.Line != line {
			t.Fatalf("child %s: Line = %d; want %d", c.Path, c.Line, line)
		}
	}
	for _, st := range s2.Steps {
		line++
		if st.Line != line {
			t.Fatalf("step %q: Line = %d; want %d", st, st.Line, line)
		}
	}
}

func scenarioFiles(t testing.TB) []string {
	files, err := filepath.Glob(filepath.Join(otpDir, "*.scn"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no scenarios in %s", otpDir)
	}
	return files
}

func TestParseTestdata(t *testing.T) {
	for _, file := range scenarioFiles(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			s, err := scn.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Children) == 0 {
				t.Errorf("no children")
			}
			checkRoundTrip(t, s)
		})
	}
}

func parseOTP(t *testing.T, name string) *scn.Scenario {
	t.Helper()
	s, err := scn.ParseFile(filepath.Join(otpDir, name+".scn"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func paths(kids []*scn.Child) []string {
	var ps []string
	for _, c := range kids {
		ps = append(ps, c.Path)
	}
	return ps
}

func TestParseHeaders(t *testing.T) {
	s := parseOTP(t, "01_one_for_one_single_crash")
	want := scn.SupSpec{Strategy: "one_for_one", Intensity: 3, Period: 5, AutoShutdown: "never"}
	if s.SupSpec != want {
		t.Errorf("SupSpec = %+v; want %+v", s.SupSpec, want)
	}
	s = parseOTP(t, "27_auto_shutdown_any_significant")
	if s.AutoShutdown != "any_significant" {
		t.Errorf("27: AutoShutdown = %q; want any_significant", s.AutoShutdown)
	}
	if c := s.Find("s"); c == nil || !c.Significant || c.Restart != "transient" {
		t.Errorf("27: Find(s) = %+v; want a significant transient child", c)
	}
}

func TestParseNested(t *testing.T) {
	s := parseOTP(t, "29_nested_escalation")
	if got, want := paths(s.Children), []string{"a", "s", "b"}; !slices.Equal(got, want) {
		t.Fatalf("top-level children = %v; want %v", got, want)
	}
	sup := s.Find("s")
	if sup == nil || sup.Supervisor == nil {
		t.Fatalf("Find(s) = %+v; want a supervisor child", sup)
	}
	wantSup := scn.SupSpec{Strategy: "one_for_one", Intensity: 1, Period: 5, AutoShutdown: "never"}
	if *sup.Supervisor != wantSup {
		t.Errorf("s.Supervisor = %+v; want %+v", *sup.Supervisor, wantSup)
	}
	if sup.Shutdown.Kind != scn.Infinity {
		t.Errorf("s.Shutdown = %v; want infinity", sup.Shutdown)
	}
	if got, want := paths(sup.Children), []string{"s.x", "s.y"}; !slices.Equal(got, want) {
		t.Errorf("children of s = %v; want %v", got, want)
	}
	if x := s.Find("s.x"); x == nil || x.ID != "x" || x != sup.Children[0] {
		t.Errorf("Find(s.x) = %+v; want s.Children[0] with ID x", x)
	}
	var all []string
	for c := range s.All() {
		all = append(all, c.Path)
	}
	if want := []string{"a", "s", "s.x", "s.y", "b"}; !slices.Equal(all, want) {
		t.Errorf("All() = %v; want %v", all, want)
	}
	var ws []string
	for _, st := range s.Steps {
		if st.Op == "which_children" {
			ws = append(ws, st.Path)
		}
	}
	if want := []string{"s", "", "s"}; !slices.Equal(ws, want) {
		t.Errorf("which_children paths = %q; want %q", ws, want)
	}

	s = parseOTP(t, "30_nested_count_and_dynamic")
	if y := s.Find("s.y"); y == nil || !y.Stubborn || y.Shutdown != (scn.Shutdown{Kind: scn.ShutdownMillis, Millis: 300}) {
		t.Errorf("30: Find(s.y) = %+v; want stubborn with shutdown 300", y)
	}
	st := s.Steps[0]
	if st.Op != "start_child" || st.Path != "s.z" || st.Child == nil || st.Child.Path != "s.z" ||
		st.Child.ID != "z" || st.Child.Restart != "temporary" {
		t.Errorf("30: first step = %+v (child %+v); want start_child s.z temporary", st, st.Child)
	}
	if s.Find("s.z") != nil {
		t.Errorf("30: Find(s.z) found a start_child spec; want nil")
	}
}

func TestParseDynamicSteps(t *testing.T) {
	s := parseOTP(t, "11_one_for_one_dynamic_children")
	var got []string
	for _, st := range s.Steps {
		got = append(got, st.String())
	}
	want := []string{
		"start_child b transient 1000",
		"start_child b transient 1000",
		"start_child c temporary 1000",
		"which_children",
		"terminate_child b",
		"which_children",
		"start_child b permanent 1000",
		"delete_child a",
		"restart_child b",
		"restart_child b",
		"terminate_child c",
		"restart_child c",
		"delete_child c",
		"terminate_child zz",
		"terminate_child b",
		"delete_child b",
		"restart_child b",
		"start_child b permanent 1000 fail_starts 3",
		"start_child b permanent 1000 fail_starts 3",
		"which_children",
		"count_children",
		"stop",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("steps =\n%q\nwant\n%q", got, want)
	}
	if s.Steps[0].Line != 6 {
		t.Errorf("first step Line = %d; want 6", s.Steps[0].Line)
	}
	if last := s.Steps[17]; !slices.Equal(last.Child.FailStarts, []int{3}) {
		t.Errorf("FailStarts = %v; want [3]", last.Child.FailStarts)
	}
}

func TestParseFailStarts(t *testing.T) {
	cases := []struct {
		file, path string
		want       []int
	}{
		{"08_one_for_one_init_failure", "c", []int{1}},
		{"09_one_for_one_restart_failure_retry", "b", []int{2, 3}},
		{"10_one_for_one_restart_failure_escalates", "b", []int{2, 3, 4}},
		{"10_one_for_one_restart_failure_escalates", "a", nil},
	}
	for _, c := range cases {
		s := parseOTP(t, c.file)
		ch := s.Find(c.path)
		if ch == nil {
			t.Fatalf("%s: Find(%s) = nil", c.file, c.path)
		}
		if !slices.Equal(ch.FailStarts, c.want) {
			t.Errorf("%s: %s.FailStarts = %v; want %v", c.file, c.path, ch.FailStarts, c.want)
		}
	}
}

func TestParseSteps(t *testing.T) {
	s := parseOTP(t, "04_one_for_one_period_expiry")
	want := []scn.Step{
		{Line: 10, Op: "crash", Path: "a", Reason: "error"},
		{Line: 11, Op: "sleep", Millis: 2500},
		{Line: 12, Op: "crash", Path: "a", Reason: "error"},
		{Line: 13, Op: "sleep", Millis: 2500},
		{Line: 14, Op: "crash", Path: "b", Reason: "error"},
		{Line: 15, Op: "which_children"},
		{Line: 16, Op: "crash", Path: "b", Reason: "error"},
	}
	if !reflect.DeepEqual(s.Steps, want) {
		t.Errorf("steps = %#v; want %#v", s.Steps, want)
	}
	s = parseOTP(t, "12_one_for_one_stubborn_and_brutal_kill")
	for _, c := range []struct {
		path string
		want scn.Shutdown
		stub bool
	}{
		{"a", scn.Shutdown{Millis: 1000}, false},
		{"s", scn.Shutdown{Millis: 300}, true},
		{"k", scn.Shutdown{Kind: scn.BrutalKill}, false},
		{"ks", scn.Shutdown{Kind: scn.BrutalKill}, true},
	} {
		ch := s.Find(c.path)
		if ch.Shutdown != c.want || ch.Stubborn != c.stub {
			t.Errorf("12: %s: shutdown %v stubborn %v; want %v %v", c.path, ch.Shutdown, ch.Stubborn, c.want, c.stub)
		}
	}
}

func TestParseLexical(t *testing.T) {
	text := "# leading comment\r\n" +
		"strategy\tone_for_all   # trailing comment\r\n" +
		"   intensity 0\r\n" +
		"\r\n" +
		"\t\t\r\n" +
		"period 1#no space before the comment\n" +
		"auto_shutdown all_significant\n" +
		"child s permanent infinity auto_shutdown any_significant supervisor rest_for_one 2 3\n" +
		"child s.t transient 0 stubborn fail_starts 3,1,3 significant\n" +
		"child s.t.x temporary 100\n" + // not reached: s.t is a worker
		"step stop"
	_, err := scn.Parse(strings.NewReader(text))
	var se *scn.SyntaxError
	if !errors.As(err, &se) || se.Line != 10 {
		t.Fatalf("err = %v; want a SyntaxError on line 10", err)
	}

	text = strings.Replace(text, "child s.t.x temporary 100\n", "child s.u temporary 100 significant\r\n", 1) + "\r"
	s := mustParse(t, text)
	want := &scn.Scenario{
		SupSpec: scn.SupSpec{Strategy: "one_for_all", Intensity: 0, Period: 1, AutoShutdown: "all_significant"},
		Steps:   []scn.Step{{Line: 11, Op: "stop"}},
	}
	sup := &scn.Child{
		Line: 8, Path: "s", ID: "s", Restart: "permanent", Shutdown: scn.Shutdown{Kind: scn.Infinity},
		Supervisor: &scn.SupSpec{Strategy: "rest_for_one", Intensity: 2, Period: 3, AutoShutdown: "any_significant"},
	}
	sup.Children = []*scn.Child{
		{Line: 9, Path: "s.t", ID: "t", Restart: "transient", Shutdown: scn.Shutdown{}, Stubborn: true, Significant: true, FailStarts: []int{1, 3}},
		{Line: 10, Path: "s.u", ID: "u", Restart: "temporary", Shutdown: scn.Shutdown{Millis: 100}, Significant: true},
	}
	want.Children = []*scn.Child{sup}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("got  %s\nwant %s", s, want)
	}
	wantText := "strategy one_for_all\nintensity 0\nperiod 1\nauto_shutdown all_significant\n" +
		"child s permanent infinity supervisor rest_for_one 2 3 auto_shutdown any_significant\n" +
		"child s.t transient 0 significant stubborn fail_starts 1,3\n" +
		"child s.u temporary 100 significant\n" +
		"step stop\n"
	if got := s.String(); got != wantText {
		t.Errorf("String() =\n%s\nwant\n%s", got, wantText)
	}
	checkRoundTrip(t, s)
}

func TestParseErrors(t *testing.T) {
	const head = "strategy one_for_one\nintensity 1\nperiod 5\n" // lines 1-3
	const sup = head + "child s permanent infinity supervisor one_for_one 1 5\n"
	cases := []struct {
		name string
		text string
		line int    // 0: a whole-file error
		msg  string // a substring of the message
	}{
		{"empty", "", 0, `missing header "strategy"`},
		{"only comments", "# nothing\n  # here\n", 0, `missing header "strategy"`},
		{"missing intensity", "strategy one_for_one\nperiod 5\n", 0, `missing header "intensity"`},
		{"missing period", "strategy one_for_one\nintensity 5\nchild a permanent 100\n", 0, `missing header "period"`},
		{"duplicate header", head + "intensity 2\n", 4, `duplicate header "intensity"`},
		{"header args", "strategy one_for_one one_for_all\n", 1, "exactly one argument"},
		{"header no arg", "strategy\n", 1, "exactly one argument"},
		{"bad strategy", "strategy simple_one_for_one\n", 1, "bad strategy"},
		{"keyword case", "Strategy one_for_one\n", 1, "unknown directive"},
		{"negative intensity", "intensity -1\n", 1, "not a decimal integer"},
		{"signed int", "intensity +1\n", 1, "not a decimal integer"},
		{"period zero", "period 0\n", 1, "must be an integer >= 1"},
		{"int overflow", "period 99999999999999999999\n", 1, "not an integer in range"},
		{"bad auto", "auto_shutdown always\n", 1, "bad auto_shutdown"},
		{"header after child", head + "child a permanent 100\nauto_shutdown never\n", 5, "must come before child and step"},
		{"header after step", head + "step stop\nperiod 3\n", 5, "must come before child and step"},
		{"child after step", head + "step stop\nchild a permanent 100\n", 5, "child lines must come before step lines"},
		{"unknown directive", head + "children a\n", 4, "unknown directive"},
		{"short child", head + "child a permanent\n", 4, "needs PATH RESTART SHUTDOWN"},
		{"bad path", head + "child A permanent 100\n", 4, "bad child path"},
		{"bad path digit", head + "child 1a permanent 100\n", 4, "bad child path"},
		{"bad path dots", head + "child a..b permanent 100\n", 4, "bad child path"},
		{"bad path trailing dot", head + "child a. permanent 100\n", 4, "bad child path"},
		{"bad path dash", head + "child a-b permanent 100\n", 4, "bad child path"},
		{"bad restart", head + "child a forever 100\n", 4, "bad restart type"},
		{"bad shutdown", head + "child a permanent soon\n", 4, "bad shutdown"},
		{"negative shutdown", head + "child a permanent -5 stubborn\n", 4, "bad shutdown"},
		{"short shutdown", head + "child a permanent 99\n", 4, "needs shutdown >= 100"},
		{"unknown option", head + "child a permanent 100 lazy\n", 4, `unknown child option "lazy"`},
		{"repeated significant", head + "child a transient 100 significant significant\n", 4, "repeated option"},
		{"repeated stubborn", head + "child a transient 100 stubborn significant stubborn\n", 4, "repeated option"},
		{"repeated fail_starts", head + "child a transient 100 fail_starts 1 fail_starts 2\n", 4, "repeated option"},
		{"fail_starts missing", head + "child a transient 100 fail_starts\n", 4, "needs a list"},
		{"fail_starts zero", head + "child a transient 100 fail_starts 0\n", 4, "must be an integer >= 1"},
		{"fail_starts empty elem", head + "child a transient 100 fail_starts 1,,2\n", 4, "bad list"},
		{"fail_starts trailing comma", head + "child a transient 100 fail_starts 1,\n", 4, "bad list"},
		{"fail_starts spaces", head + "child a transient 100 fail_starts 1, 2\n", 4, "bad list"},
		{"supervisor short", head + "child s permanent infinity supervisor one_for_one 1\n", 4, "needs STRATEGY INTENSITY PERIOD"},
		{"supervisor bad strategy", head + "child s permanent infinity supervisor one 1 5\n", 4, "bad strategy"},
		{"supervisor period", head + "child s permanent infinity supervisor one_for_one 1 0\n", 4, ">= 1"},
		{"repeated supervisor", head + "child s permanent infinity supervisor one_for_one 1 5 supervisor one_for_one 1 5\n", 4, "repeated option"},
		{"auto_shutdown worker", head + "child a permanent 100 auto_shutdown never\n", 4, "needs option supervisor"},
		{"auto_shutdown missing", head + "child s permanent infinity supervisor one_for_one 1 5 auto_shutdown\n", 4, "auto_shutdown needs"},
		{"repeated auto_shutdown", head + "child s permanent infinity auto_shutdown never supervisor one_for_one 1 5 auto_shutdown never\n", 4, "repeated option"},
		{"supervisor shutdown", head + "child s permanent 5000 supervisor one_for_one 1 5\n", 4, "must have shutdown infinity"},
		{"supervisor brutal", head + "child s permanent brutal_kill supervisor one_for_one 1 5\n", 4, "must have shutdown infinity"},
		{"stubborn supervisor", head + "child s permanent infinity stubborn supervisor one_for_one 1 5\n", 4, "cannot be stubborn"},
		{"stubborn infinity", head + "child a permanent infinity stubborn\n", 4, "cannot have shutdown infinity"},
		{"duplicate child", head + "child a permanent 100\n\nchild a transient 100\n", 6, `duplicate child "a" (first declared on line 4)`},
		{"duplicate nested", sup + "child s.x permanent 100\nchild s.x permanent 100\n", 6, "duplicate child"},
		{"undeclared parent", head + "child s.x permanent 100\n", 4, "not a previously declared supervisor"},
		{"parent declared later", head + "child s.x permanent 100\nchild s permanent infinity supervisor one_for_one 1 5\n", 4, "not a previously declared supervisor"},
		{"worker parent", head + "child s permanent 100\nchild s.x permanent 100\n", 5, "not a previously declared supervisor"},
		{"step empty", head + "step\n", 4, "step needs an action"},
		{"step unknown", head + "step explode a\n", 4, `unknown step "explode"`},
		{"crash no reason", head + "step crash a\n", 4, "takes 2 argument(s), got 1"},
		{"crash bad reason", head + "step crash a killed\n", 4, "crash reason"},
		{"crash bad path", head + "step crash A error\n", 4, "bad child path"},
		{"crash undeclared parent", head + "step crash q.x error\n", 4, `"q" is not a declared supervisor child`},
		{"terminate extra", head + "step terminate_child a b\n", 4, "takes 1 argument(s), got 2"},
		{"restart none", head + "step restart_child\n", 4, "takes 1 argument(s), got 0"},
		{"delete undeclared parent", head + "child a permanent 100\nstep delete_child a.b\n", 5, "not a declared supervisor child"},
		{"which worker", head + "child a permanent 100\nstep which_children a\n", 5, "not a declared supervisor child"},
		{"which two", sup + "step which_children s s\n", 5, "at most 1 argument(s)"},
		{"count unknown", head + "step count_children zz\n", 4, "not a declared supervisor child"},
		{"sleep missing", head + "step sleep\n", 4, "takes 1 argument(s)"},
		{"sleep negative", head + "step sleep -1\n", 4, "not a decimal integer"},
		{"sleep float", head + "step sleep 2.5\n", 4, "not a decimal integer"},
		{"stop args", head + "step stop now\n", 4, "takes no argument"},
		{"start_child short", head + "step start_child b transient\n", 4, "needs PATH RESTART SHUTDOWN"},
		{"start_child supervisor", head + "step start_child s permanent infinity supervisor one_for_one 1 5\n", 4, "start_child cannot add a supervisor child"},
		{"start_child supervisor bad shutdown", head + "step start_child s permanent 100 supervisor one_for_one 1 5\n", 4, "start_child cannot add a supervisor child"},
		{"start_child short shutdown", head + "step start_child b transient 50\n", 4, "needs shutdown >= 100"},
		{"start_child undeclared parent", head + "step start_child q.b transient 100\n", 4, `"q" is not a declared supervisor child`},
		{"start_child worker parent", head + "child q permanent 100\nstep start_child q.b transient 100\n", 5, "not a declared supervisor child"},
		{"cr inside a line", head + "child a\rpermanent 100\n", 4, "needs PATH RESTART SHUTDOWN"},
		{"two trailing cr", head + "step stop\r\r\n", 4, `unknown step "stop\r"`},
		{"form feed", head + "step\fstop\n", 4, "unknown directive"},
		{"nul", head + "step stop\x00\n", 4, "unknown step"},
		{"non-ascii", head + "child é permanent 100\n", 4, "bad child path"},
		{"long line", head + "# " + strings.Repeat("x", scn.MaxLineLen) + "\nstep stop\n", 4, "line longer than"},
		{"long last line", head + "step stop\n" + strings.Repeat(" ", scn.MaxLineLen+1), 5, "line longer than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := scn.Parse(strings.NewReader(c.text))
			if err == nil {
				t.Fatalf("Parse succeeded; want an error\ngot:\n%s", s)
			}
			if s != nil {
				t.Errorf("Parse returned a scenario with error %v", err)
			}
			var se *scn.SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T) is not a *SyntaxError", err, err)
			}
			if se.Line != c.line {
				t.Errorf("Line = %d; want %d (error %v)", se.Line, c.line, err)
			}
			if !strings.Contains(se.Msg, c.msg) {
				t.Errorf("Msg = %q; want it to contain %q", se.Msg, c.msg)
			}
			wantPrefix := ""
			if c.line > 0 {
				wantPrefix = "line " + strconv.Itoa(c.line) + ": "
			}
			if got := err.Error(); !strings.HasPrefix(got, wantPrefix) || strings.HasPrefix(got, "line 0") {
				t.Errorf("Error() = %q; want prefix %q", got, wantPrefix)
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	const head = "strategy one_for_one\nintensity 1\nperiod 5\n"
	// The longest accepted line, with a CRLF ending and as the last line.
	long := "#" + strings.Repeat("x", scn.MaxLineLen-1)
	for _, text := range []string{head + long + "\r\n", head + long, head + long + "\r"} {
		if _, err := scn.Parse(strings.NewReader(text)); err != nil {
			t.Errorf("Parse of a %d-byte line: %v", len(long), err)
		}
	}
	// Large but valid integers survive the round trip.
	s := mustParse(t, head+"child a permanent 0100 fail_starts 9223372036854775807,007\nstep sleep 000\n")
	a := s.Find("a")
	if a.Shutdown.Millis != 100 || !slices.Equal(a.FailStarts, []int{7, 9223372036854775807}) || s.Steps[0].Millis != 0 {
		t.Errorf("got a = %+v, sleep %d", a, s.Steps[0].Millis)
	}
	checkRoundTrip(t, s)
}

// errReader returns data, then err.
type errReader struct {
	data string
	err  error
}

func (r *errReader) Read(p []byte) (int, error) {
	if r.data == "" {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestParseReadError(t *testing.T) {
	boom := errors.New("boom")
	_, err := scn.Parse(&errReader{data: "strategy one_for_one\n", err: boom})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v; want it to wrap %v", err, boom)
	}
	var se *scn.SyntaxError
	if errors.As(err, &se) {
		t.Errorf("read error %v is a SyntaxError", err)
	}
	// A reader that ends with io.EOF is fine.
	if _, err := scn.Parse(&errReader{data: "strategy one_for_one\nintensity 1\nperiod 1\n", err: io.EOF}); err != nil {
		t.Errorf("Parse: %v", err)
	}
}

func TestParseFile(t *testing.T) {
	_, err := scn.ParseFile(filepath.Join(t.TempDir(), "missing.scn"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ParseFile(missing) = %v; want ErrNotExist", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.scn")
	if err := os.WriteFile(bad, []byte("strategy one_for_one\nintensity x\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	_, err = scn.ParseFile(bad)
	var se *scn.SyntaxError
	if !errors.As(err, &se) || se.Line != 2 {
		t.Fatalf("ParseFile(bad) = %v; want a SyntaxError on line 2", err)
	}
	if want := bad + ": line 2: "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Error() = %q; want prefix %q", err.Error(), want)
	}
}

func TestFindAndSplitPath(t *testing.T) {
	s := mustParse(t, `strategy one_for_one
intensity 1
period 5
child a permanent 100
child s permanent infinity supervisor one_for_all 0 1
child s.t permanent infinity supervisor one_for_all 0 1
child s.t.a permanent 100
child s.a permanent 100
`)
	for _, c := range []struct {
		path, id string
		line     int // 0: not found
	}{
		{"a", "a", 4}, {"s", "s", 5}, {"s.t", "t", 6}, {"s.t.a", "a", 7}, {"s.a", "a", 8},
		{"", "", 0}, {"b", "", 0}, {"a.a", "", 0}, {"s.t.a.a", "", 0}, {"t", "", 0}, {"s.", "", 0},
	} {
		got := s.Find(c.path)
		switch {
		case c.line == 0 && got != nil:
			t.Errorf("Find(%q) = %v; want nil", c.path, got)
		case c.line != 0 && (got == nil || got.Line != c.line || got.Path != c.path || got.ID != c.id):
			t.Errorf("Find(%q) = %+v; want the child of line %d", c.path, got, c.line)
		}
	}
	n := 0
	for range s.All() {
		n++
		if n == 3 {
			break // All must stop when yield returns false
		}
	}
	if n != 3 {
		t.Errorf("All stopped after %d children; want 3", n)
	}

	for _, c := range []struct{ path, parent, id string }{
		{"a", "", "a"}, {"s.x", "s", "x"}, {"s.t.x", "s.t", "x"}, {"", "", ""},
	} {
		if p, id := scn.SplitPath(c.path); p != c.parent || id != c.id {
			t.Errorf("SplitPath(%q) = %q, %q; want %q, %q", c.path, p, id, c.parent, c.id)
		}
	}
}

func TestStrings(t *testing.T) {
	for _, c := range []struct {
		got, want string
	}{
		{scn.Shutdown{Millis: 250}.String(), "250"},
		{scn.Shutdown{Kind: scn.BrutalKill}.String(), "brutal_kill"},
		{scn.Shutdown{Kind: scn.Infinity}.String(), "infinity"},
		{scn.Step{Op: "crash", Path: "s.x", Reason: "kill"}.String(), "crash s.x kill"},
		{scn.Step{Op: "sleep", Millis: 2500}.String(), "sleep 2500"},
		{scn.Step{Op: "count_children"}.String(), "count_children"},
		{scn.Step{Op: "count_children", Path: "s"}.String(), "count_children s"},
		{scn.Step{Op: "stop"}.String(), "stop"},
		{(&scn.Child{Path: "b", Restart: "temporary", Shutdown: scn.Shutdown{Kind: scn.BrutalKill}, FailStarts: []int{1, 2}}).String(),
			"b temporary brutal_kill fail_starts 1,2"},
	} {
		if c.got != c.want {
			t.Errorf("got %q; want %q", c.got, c.want)
		}
	}
}
