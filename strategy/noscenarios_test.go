package strategy_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOTPScenariosModelFailsWithoutScenarios runs TestOTPScenariosModel in
// a child process on an empty folder, on a missing one and on a scenario
// without its trace: each run must fail, not pass or skip.
func TestOTPScenariosModelFailsWithoutScenarios(t *testing.T) {
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
			out, err := runChildTest(t, "^TestOTPScenariosModel$", "OTP_SCENARIOS="+c.dir)
			if err == nil {
				t.Fatalf("TestOTPScenariosModel with OTP_SCENARIOS=%s: passed; want a failure\n%s", c.dir, out)
			}
			if !strings.Contains(out, c.want) || !strings.Contains(out, "--- FAIL") {
				t.Errorf("TestOTPScenariosModel with OTP_SCENARIOS=%s: got\n%s\nwant a FAIL mentioning %q", c.dir, out, c.want)
			}
		})
	}
}

// runChildTest re-runs this test binary with -test.run=pattern and the
// extra environment, bounded by the test's deadline, and returns its
// output and exit error.
func runChildTest(t *testing.T, pattern string, env ...string) (string, error) {
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
