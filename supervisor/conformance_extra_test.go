package supervisor_test

import (
	"path/filepath"
	"testing"
)

// TestOTPConformanceExtra runs the extra scenarios of testdata/otp-extra
// (the rules FORMAT.md §4 cites with h-numbers, and more) with the same
// runner as TestOTPConformance: real troupe actors under a real troupe
// supervisor, traces compared byte for byte with the ones real Erlang/OTP
// printed. Nothing is skipped: a scenario that fails is a failing test.
func TestOTPConformanceExtra(t *testing.T) {
	runScenarios(t, filepath.Join("testdata", "otp-extra"))
}
