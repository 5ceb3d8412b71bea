// Package testkit holds test plumbing that several packages' tests share:
// running the test binary again as a child process, and the check that a
// conformance test fails when it has nothing to check. Only _test.go
// files import it.
package testkit

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// RunChild re-runs this test binary with -test.run=pattern and the extra
// environment, bounded by the test's deadline, and returns its output
// and exit error.
func RunChild(t *testing.T, pattern string, env ...string) (string, error) {
	t.Helper()
	ctx := context.Background()
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-time.Second))
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run="+pattern, "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// FailsWithoutScenarios runs the test named test in a child process with
// OTP_SCENARIOS set to an empty folder, to a missing one and to a folder
// holding a scenario without its trace, and fails t unless each run
// fails with the reason: a check that finds nothing to check must not
// pass or skip.
func FailsWithoutScenarios(t *testing.T, test string) {
	t.Helper()
	empty := t.TempDir()
	noTrace := t.TempDir()
	if err := os.WriteFile(filepath.Join(noTrace, "a.scn"), []byte("strategy one_for_one\nintensity 1\nperiod 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, dir, want string }{
		{"empty", empty, "no *.scn scenarios"},
		{"missing", filepath.Join(empty, "nope"), "no *.scn scenarios"},
		{"no trace", noTrace, "no trace beside the scenario"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := RunChild(t, "^"+test+"$", "OTP_SCENARIOS="+c.dir)
			if err == nil {
				t.Fatalf("%s with OTP_SCENARIOS=%s: passed; want a failure\n%s", test, c.dir, out)
			}
			if !strings.Contains(out, c.want) || !strings.Contains(out, "--- FAIL") {
				t.Errorf("%s with OTP_SCENARIOS=%s: got\n%s\nwant a FAIL mentioning %q", test, c.dir, out, c.want)
			}
		})
	}
}
