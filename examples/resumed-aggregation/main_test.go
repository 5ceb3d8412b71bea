package main

import (
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) {
	var out strings.Builder
	if err := run(&out, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	if !strings.Contains(out.String(), "run 1 crashed; its checkpoint: byte ") {
		t.Errorf("no crash reported")
	}
	if n := strings.Count(out.String(), ": same\n"); n != len(users) || strings.Contains(out.String(), "DIFFERENT") {
		t.Errorf("%d of %d users with the same totals after the resume", n, len(users))
	}
}
