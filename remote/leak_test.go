package remote

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		// A node process of a multi-node test: it is killed or exits.
		os.Exit(m.Run())
	}
	goleak.VerifyTestMain(m)
}
