package main

import (
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/troupe-go/troupe/actor"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestHedged runs the example in a synctest bubble, where time moves only
// when every goroutine waits: the latencies in the output are exact.
func TestHedged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out strings.Builder
		if err := run(&out); err != nil {
			t.Fatal(err)
		}
		want := `warm: "value of warm" from /primary after 10ms
cold: "value of cold" from /backup after 70ms
primary: served 1, cancelled 1
backup:  served 1, cancelled 0
`
		if got := out.String(); got != want {
			t.Errorf("output:\n%s\nwant:\n%s", got, want)
		}
	})
}

// TestHedgeEarlyFailure checks that a primary that fails before the hedge
// delay makes hedge ask the backup at once, and that two failures are
// both reported.
func TestHedgeEarlyFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		sys := actor.NewSystem()
		defer sys.Shutdown(ctx)
		failing := func(name string) actor.Ref[Get] {
			ref, err := actor.Spawn(sys, name, func() actor.Actor[Get] {
				return actor.Func[Get](func(ctx actor.Context, g Get) error {
					return g.Reply.Fail(ctx, errors.New(name+" down"))
				})
			})
			if err != nil {
				t.Fatal(err)
			}
			return ref
		}
		var bn counts
		backup, err := actor.Spawn(sys, "backup", func() actor.Actor[Get] {
			return &replica{n: &bn, latency: func(string) time.Duration { return 20 * time.Millisecond }}
		})
		if err != nil {
			t.Fatal(err)
		}

		start := time.Now()
		v, from, err := hedge(ctx, failing("primary"), backup, "k", time.Second)
		if err != nil || from != "/backup" || v != "value of k" || time.Since(start) != 20*time.Millisecond {
			t.Errorf("hedge = %q, %q, %v after %v; want the backup's answer after 20ms", v, from, err, time.Since(start))
		}

		_, _, err = hedge(ctx, failing("p2"), failing("b2"), "k", time.Second)
		if err == nil || !strings.Contains(err.Error(), "p2 down") || !strings.Contains(err.Error(), "b2 down") {
			t.Errorf("hedge with two failing replicas: %v, want both errors", err)
		}
	})
}
