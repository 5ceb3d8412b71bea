package main

import (
	"context"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestTeeSplit checks the exact totals: the audit copy of the Tee gets
// all 50 orders (7+14+...+350 = 8925 EUR); the Split sends the 36 orders
// of 105 EUR and more to review and the 14 below 100 EUR to the fast
// path, each exactly once (their counts and sums add up to the audit's).
func TestTeeSplit(t *testing.T) {
	audit, review, fast, err := run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := (Totals{N: 50, Sum: 8925, Min: 7, Max: 350}); audit != want {
		t.Errorf("audit %+v; want %+v", audit, want)
	}
	if want := (Totals{N: 36, Sum: 8190, Min: 105, Max: 350}); review != want {
		t.Errorf("review %+v; want %+v", review, want)
	}
	if want := (Totals{N: 14, Sum: 735, Min: 7, Max: 98}); fast != want {
		t.Errorf("fast %+v; want %+v", fast, want)
	}
	var out strings.Builder
	report(&out, audit, review, fast)
	want := `audit (all)     50 orders,  8925 EUR, amounts 7-350
review (large)  36 orders,  8190 EUR, amounts 105-350
fast (small)    14 orders,   735 EUR, amounts 7-98
`
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}
