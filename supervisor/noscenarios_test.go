package supervisor_test

import (
	"testing"

	"github.com/troupe-go/troupe/internal/testkit"
)

// TestOTPConformanceFailsWithoutScenarios checks that TestOTPConformance fails, not passes or
// skips, when its folder has no scenarios or a scenario has no trace.
func TestOTPConformanceFailsWithoutScenarios(t *testing.T) {
	testkit.FailsWithoutScenarios(t, "TestOTPConformance")
}
