package treeview

import (
	"bytes"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the handler's output")

// TestGolden pins the JSON (redacted and with sensitive detail), DOT and
// Mermaid of the fixed fixture with its events: the schema the view's
// clients rely on. A second request sees the events that arrived after
// the first one opened the subscription.
func TestGolden(t *testing.T) {
	src := &fakeSource{snap: fixture()}
	h := Handler(src)
	sens := Handler(src, WithAuthorize(func(*http.Request) (bool, bool) { return true, true }))
	get(h, "/?format=json")    // opens the subscription
	get(sens, "/?format=json") // and this one's
	src.emit(fixtureEvents()...)
	cases := []struct {
		file string
		h    http.Handler
		url  string
	}{
		{"page.json.golden", h, "/?format=json"},
		{"page-sensitive.json.golden", sens, "/?format=json"},
		{"page.dot.golden", h, "/?format=dot"},
		{"page.mermaid.golden", h, "/?format=mermaid"},
	}
	for _, c := range cases {
		w := get(c.h, c.url)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: status %d: %s", c.url, w.Code, w.Body)
		}
		golden(t, c.file, w.Body.Bytes())
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the handler's output (go test -update rewrites it); got:\n%s", path, got)
	}
}
