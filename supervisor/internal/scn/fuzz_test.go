package scn_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/troupe-go/troupe/supervisor/internal/scn"
)

// FuzzParse checks that Parse never panics, that it fails only with a
// *SyntaxError on in-memory input, and that every scenario it accepts
// prints back (String) to text that parses to the same scenario. An input
// that finds a bug is kept as go test -fuzz wrote it, under
// testdata/fuzz/FuzzParse, and committed with the fix, so plain go test
// replays it.
func FuzzParse(f *testing.F) {
	for _, file := range scenarioFiles(f) {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	const head = "strategy one_for_all\nintensity 0\nperiod 1\n"
	for _, seed := range []string{
		"",
		head,
		head + "auto_shutdown all_significant\nchild s permanent infinity supervisor rest_for_one 2 3 auto_shutdown any_significant\n" +
			"child s.t transient 0 stubborn fail_starts 3,1,3 significant\nchild s.t2 permanent infinity supervisor one_for_one 0 1\n" +
			"child s.t2.w temporary brutal_kill\nstep start_child s.t2.z temporary 100 significant\nstep which_children s.t2\n",
		head + "child a permanent 100\r\nstep crash a kill\r\nstep sleep 0\r\nstep count_children\r\nstep stop\r",
		head + "child a permanent 99\n",
		head + "step start_child s permanent infinity supervisor one_for_one 1 5\n",
		head + "child a permanent 100 fail_starts 1,,2\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		s, err := scn.Parse(strings.NewReader(text))
		if err != nil {
			var se *scn.SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T) is not a *SyntaxError", err, err)
			}
			if s != nil {
				t.Fatalf("Parse returned a scenario and error %v", err)
			}
			return
		}
		checkRoundTrip(t, s)
	})
}
