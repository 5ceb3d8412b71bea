package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestOrdered checks that both runs render every page once, that without
// Ordered the parallel workers deliver out of order (so the ordered run
// has something to fix), and that with Ordered the sink gets exactly the
// input order. It runs in a synctest bubble, where the render times are
// exact.
func TestOrdered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		unordered, ordered, err := run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		report(&out, unordered, ordered)
		t.Log("\n" + out.String())

		want := make([]string, pages)
		for i := range want {
			want[i] = fmt.Sprintf("page-%02d", i)
		}
		if !slices.Equal(ordered, want) {
			t.Errorf("with Ordered: %v; want the input order", ordered)
		}
		if got := slices.Sorted(slices.Values(unordered)); !slices.Equal(got, want) {
			t.Errorf("without Ordered: %v; want every page once", unordered)
		}
		if n := inPlace(unordered); n > pages/2 {
			t.Errorf("without Ordered %d of %d pages came in input position; want the workers to finish out of order", n, pages)
		}
	})
}
