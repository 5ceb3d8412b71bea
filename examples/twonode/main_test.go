package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain runs the second node when the test binary is re-executed as
// one (run starts os.Executable, the test binary, with childEnv set).
func TestMain(m *testing.M) {
	if peer := os.Getenv(childEnv); peer != "" {
		if err := second(peer, os.Stdin, os.Stdout); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// TestTwoNode runs the example, bounded in time: the Ask crosses, and
// the watcher sees noconnection within 2 s of the SIGKILL.
func TestTwoNode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{`Ask across: "hello, A"`, "watcher saw: remote://", " noconnection ", "ErrNoConnection: true"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	t.Log("\n" + s)
}
