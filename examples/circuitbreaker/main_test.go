package main

import (
	"strings"
	"testing"
	"testing/synctest"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestCircuitbreaker runs the example in a synctest bubble: time.Now,
// the ticker and the backend's outage all use the bubble's virtual clock,
// so every transition happens at an exact time.
func TestCircuitbreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out strings.Builder
		if err := run(&out); err != nil {
			t.Fatal(err)
		}
		want := `120ms  closed -> open: 3 of the last 5 calls failed
220ms  open -> half-open: cooldown over, next call probes
220ms  half-open -> open: probe failed
320ms  open -> half-open: cooldown over, next call probes
320ms  half-open -> closed: probe succeeded
calls: ok 28, failed 4, failed fast 18
`
		if got := out.String(); got != want {
			t.Errorf("output:\n%s\nwant:\n%s", got, want)
		}
	})
}
