package main

import (
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestDynamicInputs checks what each feed delivered, in order: acme its
// 7 events sent before Remove (and nothing after: its channel was not
// read), globex the 6 it sent before and after acme left, initech the 4
// it sent before closing its channel; that Add after Close fails; and
// that the pipeline ended (Run would not return otherwise).
func TestDynamicInputs(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	want := `acme removed: its channel is no longer read
adding a feed after Close: pipeline: closed
acme    7 events [0 1 2 3 4 5 6]
globex  6 events [0 1 2 3 4 5]
initech 4 events [0 1 2 3]
merge: 17 in, 17 out; the stream ended after Close and the last feed
`
	if got := out.String(); got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
}
