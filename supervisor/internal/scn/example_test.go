package scn_test

import (
	"fmt"
	"strings"

	"github.com/troupe-go/troupe/supervisor/internal/scn"
)

// This example parses a scenario with a nested supervisor and walks its
// tree and steps the way a conformance runner would.
func ExampleParse() {
	const text = `# a nested supervisor
strategy one_for_one
intensity 3
period 5
child a permanent 1000
child s permanent infinity supervisor one_for_all 1 5
child s.x permanent 1000 fail_starts 2,3
step crash s.x error
step which_children s
step stop
`
	s, err := scn.Parse(strings.NewReader(text))
	if err != nil {
		fmt.Println(err)
		return
	}
	for c := range s.All() {
		parent, id := scn.SplitPath(c.Path)
		fmt.Printf("child %s: id %s in %q, supervisor %v, fail_starts %v\n",
			c.Path, id, parent, c.Supervisor != nil, c.FailStarts)
	}
	for _, st := range s.Steps {
		fmt.Printf("line %d: %s\n", st.Line, st)
	}

	_, err = scn.Parse(strings.NewReader("strategy one_for_one\nintensity 3\nperiod 5\nchild s.x permanent 1000\n"))
	fmt.Println(err)
	// Output:
	// child a: id a in "", supervisor false, fail_starts []
	// child s: id s in "", supervisor true, fail_starts []
	// child s.x: id x in "s", supervisor false, fail_starts [2 3]
	// line 8: crash s.x error
	// line 9: which_children s
	// line 10: stop
	// line 4: child "s.x": parent "s" is not a previously declared supervisor child
}
