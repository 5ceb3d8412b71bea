package main

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// childEnv, set in the environment, makes the test binary run main with
// the arguments in it (space-separated) instead of the tests: the signal
// test re-executes itself that way.
const childEnv = "OBSERVE_TEST_CHILD_ARGS"

func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv(childEnv); ok {
		os.Args = append([]string{"observe"}, splitArgs(args)...)
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}
