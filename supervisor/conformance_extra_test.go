package supervisor_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/troupe-go/troupe/supervisor/internal/scn"
)

// TestOTPConformanceExtra runs the extra scenarios of testdata/otp-extra
// (the rules FORMAT.md §4 cites with h-numbers, and more) with the same
// runner as TestOTPConformance: real troupe actors under a real troupe
// supervisor, traces compared byte for byte with the ones real Erlang/OTP
// printed. Nothing is skipped: a scenario that fails is a failing test.
func TestOTPConformanceExtra(t *testing.T) {
	dir := filepath.Join("testdata", "otp-extra")
	files, err := filepath.Glob(filepath.Join(dir, "*.scn"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no *.scn scenarios in %s", dir)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".scn")
		t.Run(name, func(t *testing.T) {
			sc, err := scn.ParseFile(f)
			if err != nil {
				t.Fatalf("cannot parse scenario: %v", err)
			}
			want, err := os.ReadFile(strings.TrimSuffix(f, ".scn") + ".trace")
			if err != nil {
				t.Fatalf("no trace beside the scenario: %v", err)
			}
			var got string
			// A bubble deadlock panics; turn it into this scenario's
			// failure so the other scenarios still run.
			defer func() {
				if v := recover(); v != nil {
					t.Errorf("scenario %s did not complete: %v", f, v)
				}
			}()
			synctest.Test(t, func(t *testing.T) { got = runScenario(t, sc) })
			if got != string(want) {
				t.Errorf("trace mismatch for %s\n%s", f, lineDiff(string(want), got))
			}
		})
	}
}
