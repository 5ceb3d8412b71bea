package treeview

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/troupe-go/troupe/observe"
)

// BenchmarkPage measures a JSON response for a tree of 100k workers under
// one supervisor, cut to the default limit by the handler (the fake
// Source ignores the limit): the response stays bounded.
func BenchmarkPage(b *testing.B) {
	snap := fixture()
	kids := make([]observe.Node, 100_000)
	for i := range kids {
		kids[i] = observe.Node{Name: fmt.Sprint("w", i), Path: fmt.Sprint("/app/big/w", i), Type: observe.TypeWorker, Status: observe.StatusRunning}
	}
	snap.Nodes = append(snap.Nodes, observe.Node{Name: "big", Path: "/app/big", Type: observe.TypeSupervisor, Children: kids})
	h := Handler(&fakeSource{snap: snap}, WithEventTail(0))
	r := httptest.NewRequest(http.MethodGet, "/?format=json", nil)
	r.RemoteAddr = "127.0.0.1:1"
	b.ReportAllocs()
	var size int
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		size = w.Body.Len()
	}
	b.ReportMetric(float64(size), "bytes/response")
}
