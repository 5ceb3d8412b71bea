package strategy_test

import (
	"testing"

	"github.com/troupe-go/troupe/internal/testkit"
)

// TestOTPScenariosModelFailsWithoutScenarios checks that TestOTPScenariosModel fails, not passes or
// skips, when its folder has no scenarios or a scenario has no trace.
func TestOTPScenariosModelFailsWithoutScenarios(t *testing.T) {
	testkit.FailsWithoutScenarios(t, "TestOTPScenariosModel")
}
