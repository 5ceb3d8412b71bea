package main

import (
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestReplay checks the whole story: before the fix exactly the three
// comma amounts are dead-lettered as poison after 2 attempts and the
// seven others booked; Replay sends the three back; after it all ten are
// booked, each once (the total is the sum of all ten amounts, 200.20
// EUR), the store is empty, and the parse stage's books balance: 13 in
// (10 + 3 replayed) = 10 out + 3 dead-lettered.
func TestReplay(t *testing.T) {
	for range 2 { // a second run starts from the bug again
		var out strings.Builder
		if err := run(&out); err != nil {
			t.Fatal(err)
		}
		want := `booked 7 of 10; 3 dead letters:
  parse "3,75": poison after 2 attempts: bad amount "3,75"
  parse "0,40": poison after 2 attempts: bad amount "0,40"
  parse "1,01": poison after 2 attempts: bad amount "1,01"
fix applied; replayed 3
booked 10 of 10, 200.20 EUR; dead letters left: 0
parse: in=13 out=10 dead-lettered=3 errors=6 retries=3
`
		if got := out.String(); got != want {
			t.Fatalf("output:\n%s\nwant:\n%s", got, want)
		}
	}
}
