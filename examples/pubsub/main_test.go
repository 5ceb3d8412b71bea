package main

import (
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestPubsub runs the example in a synctest bubble: the subscribers' work
// takes virtual time, so the test is fast and the publish time exact.
func TestPubsub(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out strings.Builder
		if err := run(&out); err != nil {
			t.Fatal(err)
		}
		got := out.String()
		t.Log("\n" + got)
		for _, want := range []string{
			"broker: /steady joined, subscribers: 1\nbroker: /lossy joined, subscribers: 2\nbroker: /tail joined, subscribers: 3\n",
			"broker: /tail left (stopped), subscribers: 2\n",
			"/steady got 100, dropped   0, last #100\n",
			"broker: /steady left (unsubscribed), subscribers: 1\n",
		} {
			if !strings.Contains(got, want) {
				t.Errorf("output lacks %q", want)
			}
		}

		// Backpressure: the publisher could only get ahead of steady (1ms
		// a message) by what the broker and steady hold: each its mailbox
		// of 8 plus the batch of at most 8 it took out of it to handle.
		var s string
		if i := strings.Index(got, "published"); i < 0 {
			t.Fatal("no publish line")
		} else if _, err := fmt.Sscanf(got[i:], "published 100 in %s", &s); err != nil {
			t.Fatal(err)
		}
		elapsed, err := time.ParseDuration(strings.TrimSuffix(s, ","))
		if err != nil {
			t.Fatal(err)
		}
		if min := (total - 4*8) * time.Millisecond; elapsed < min {
			t.Errorf("published in %v, want at least %v (steady's pace)", elapsed, min)
		}

		// Drop-oldest: every message was either handled or dropped, some
		// were dropped, and the newest one always got through.
		var lossyGot, lossyDropped, last int
		if i := strings.Index(got, "/lossy  got"); i < 0 {
			t.Fatal("no lossy line")
		} else if _, err := fmt.Sscanf(got[i:], "/lossy  got %d, dropped %d, last #%d", &lossyGot, &lossyDropped, &last); err != nil {
			t.Fatal(err)
		}
		if lossyGot+lossyDropped != total || lossyDropped == 0 || last != total {
			t.Errorf("lossy got %d, dropped %d, last #%d; want got+dropped = %d, some dropped, last #%d",
				lossyGot, lossyDropped, last, total, total)
		}
	})
}
