package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestStreamingAggregation checks the printed totals against a straight
// recomputation over the raw events, with a parser of its own.
func TestStreamingAggregation(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	t.Log("\n" + got)

	type total struct{ events, amount int }
	want := map[string]*total{}
	malformed := 0
	for _, line := range rawEvents() {
		f := strings.Fields(line) // "user=NAME", "amount=N"
		user := strings.TrimPrefix(f[0], "user=")
		n, err := strconv.Atoi(strings.TrimPrefix(f[1], "amount="))
		if err != nil {
			malformed++
			continue
		}
		if want[user] == nil {
			want[user] = &total{}
		}
		want[user].events++
		want[user].amount += n
	}
	if len(want) != len(users) {
		t.Fatalf("recomputation found %d users, want %d", len(want), len(users))
	}
	for user, w := range want {
		// One worker per user: Keyed shards by key.
		re := regexp.MustCompile(fmt.Sprintf(`(?m)^%-5s %3d events, total %4d, on w[0-2]$`, user, w.events, w.amount))
		if !re.MatchString(got) {
			t.Errorf("output lacks %s: %d events, total %d, on one worker", user, w.events, w.amount)
		}
	}
	for _, s := range []string{
		fmt.Sprintf("decode: %d in, %d out, %d dead-lettered\n", events, events-malformed, malformed),
		fmt.Sprintf("%d dead letters; the first: decode \"user=", malformed),
		`, poison after 1 attempt: malformed event: expected integer`,
	} {
		if !strings.Contains(got, s) {
			t.Errorf("output lacks %q", s)
		}
	}

	// The aggregator flushed at least once per user, and the writer's
	// transient failures were retried (none reached the dead letters).
	var stored, retried int
	if i := strings.Index(got, "write: "); i < 0 {
		t.Fatal("no write line")
	} else if _, err := fmt.Sscanf(got[i:], "write: %d partial totals stored, %d failed attempts retried", &stored, &retried); err != nil {
		t.Fatal(err)
	}
	if stored < len(users) || retried != stored/4 {
		t.Errorf("stored %d partial totals, retried %d; want at least %d stored and every 4th write retried once", stored, retried, len(users))
	}
}
