package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// summary parses the line run prints when the door closes.
func summary(t *testing.T, out string) (accepted, done, toDrain int) {
	t.Helper()
	i := strings.Index(out, "accepted ")
	if i < 0 {
		t.Fatalf("no summary line in:\n%s", out)
	}
	var refused int
	if _, err := fmt.Sscanf(out[i:], "accepted %d jobs (job %d refused): %d done, %d to drain",
		&accepted, &refused, &done, &toDrain); err != nil {
		t.Fatalf("%v in:\n%s", err, out)
	}
	if refused != accepted+1 || done+toDrain != accepted || toDrain == 0 {
		t.Errorf("accepted %d, refused job %d, %d done, %d to drain: inconsistent", accepted, refused, done, toDrain)
	}
	return accepted, done, toDrain
}

// TestDrained simulates SIGTERM by cancelling run's context, in a synctest
// bubble so that the jobs' 40ms are virtual.
func TestDrained(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		var out strings.Builder
		if err := run(ctx, &out, time.Second); err != nil {
			t.Fatalf("run: %v\n%s", err, out.String())
		}
		got := out.String()
		_, _, toDrain := summary(t, got)
		if want := fmt.Sprintf("drained %d jobs in ", toDrain); !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	})
}

// TestDrainTimeout gives the drain too little time: run reports the jobs
// it abandoned and returns errDrainTimeout.
func TestDrainTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		var out strings.Builder
		err := run(ctx, &out, 100*time.Millisecond)
		if !errors.Is(err, errDrainTimeout) {
			t.Fatalf("run: %v, want %v\n%s", err, errDrainTimeout, out.String())
		}
		got := out.String()
		accepted, done, toDrain := summary(t, got)
		i := strings.Index(got, "drain timed out after 100ms: ")
		if i < 0 {
			t.Fatalf("no timeout line:\n%s", got)
		}
		var drained int
		if _, err := fmt.Sscanf(got[i:], "drain timed out after 100ms: %d jobs done", &drained); err != nil {
			t.Fatal(err)
		}
		// The abandoned jobs are the last ones accepted.
		var ids []string
		for id := done + drained + 1; id <= accepted; id++ {
			ids = append(ids, fmt.Sprint(id))
		}
		if want := fmt.Sprintf("jobs [%s] abandoned", strings.Join(ids, " ")); drained >= toDrain || !strings.Contains(got, want) {
			t.Errorf("%d of %d drained; output lacks %q:\n%s", drained, toDrain, want, got)
		}
	})
}

// TestSIGTERM runs the program as main does, with a real signal sent by
// the program to itself, and checks the exit codes.
func TestSIGTERM(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGTERM on Windows")
	}
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"-after=50ms"}, 0},
		{[]string{"-after=50ms", "-drain=1ns"}, 1},
	} {
		var stdout, stderr strings.Builder
		if code := serve(c.args, &stdout, &stderr); code != c.code {
			t.Errorf("serve(%q) = %d, want %d\n%s%s", c.args, code, c.code, stdout.String(), stderr.String())
		}
		if !strings.HasPrefix(stdout.String(), "signal: closing the door\n") {
			t.Errorf("serve(%q) printed:\n%s", c.args, stdout.String())
		}
	}
}
