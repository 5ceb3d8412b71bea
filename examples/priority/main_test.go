package main

import (
	"fmt"
	"strings"
	"testing"
	"testing/synctest"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestPriority runs the example in a synctest bubble: the consumer's
// sleep takes virtual time, and the clock moves only once every other
// goroutine is blocked, so after the first instant the sources have
// refilled their queues before each pick: every class waits until its
// last item. (In real time a descheduled source can leave its queue
// empty for a moment; nothing of its class waits then, and the quota
// does not apply.)
func TestPriority(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out strings.Builder
		if err := run(&out); err != nil {
			t.Fatal(err)
		}
		got := out.String()
		t.Log("\n" + got)

		var order string
		for line := range strings.Lines(got) {
			if classes, ok := strings.CutPrefix(line, "served "); ok {
				_, classes, _ = strings.Cut(classes, ": ")
				order += strings.TrimSpace(classes)
			}
		}
		for _, c := range "CNL" {
			if n := strings.Count(order, string(c)); n != perClass {
				t.Errorf("%d items of class %c served, want %d", n, c, perClass)
			}
		}
		// Items picked at the first instant, before the queues were full,
		// are left out: at most what fits behind the merges (the
		// consumer's item and mailbox, each merge's queue and pending
		// item), well under warmup.
		steady := order[warmup:]
		urgent := strings.ReplaceAll(steady, "L", "")

		// The quotas hold, and are used up: the higher class is favoured.
		if n := longestRun(urgent, 'N'); n != normalRatio {
			t.Errorf("longest critical run while normal waited = %d, want %d", n, normalRatio)
		}
		if n := longestRun(steady, 'L'); n != lowRatio {
			t.Errorf("longest critical/normal run while low waited = %d, want %d", n, lowRatio)
		}
		// No starvation: until its last item, every lowRatio+1 items hold
		// a low one, and every normalRatio+1 critical/normal items a
		// normal one.
		for i := 0; i+lowRatio < strings.LastIndexByte(steady, 'L'); i++ {
			if !strings.Contains(steady[i:i+lowRatio+1], "L") {
				t.Fatalf("no low item in %d-%d: %s", warmup+i+1, warmup+i+lowRatio+1, order)
			}
		}
		for i := 0; i+normalRatio < strings.LastIndexByte(urgent, 'N'); i++ {
			if !strings.Contains(urgent[i:i+normalRatio+1], "N") {
				t.Fatalf("no normal item among critical/normal items %d-%d after warm-up: %s", i+1, i+normalRatio+1, urgent)
			}
		}
		// While all three wait the shares are 3:1:1.
		var from, to, c, n, l int
		if i := strings.Index(got, "while all three"); i < 0 {
			t.Fatal("no share line")
		} else if _, err := fmt.Sscanf(got[i:], "while all three were queued (served %d-%d): %d critical, %d normal, %d low",
			&from, &to, &c, &n, &l); err != nil {
			t.Fatal(err)
		}
		if c < 3*n-3 || c > 3*n+3 || n < l-1 || n > l+1 || to-from < 80 {
			t.Errorf("served %d-%d: %d critical, %d normal, %d low; want 3:1:1 over at least 80 items", from, to, c, n, l)
		}
	})
}
