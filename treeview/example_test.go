package treeview_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/treeview"
)

// This example mounts the view of a System under /debug/troupe/ on the
// application's own mux and reads the tree as JSON, as a loopback
// client (the only kind the default authorization lets in).
func ExampleHandler() {
	sys := actor.NewSystem(actor.WithName("shop"))
	defer sys.Shutdown(context.Background())
	db := supervisor.NewWorker("db", func() actor.Actor[string] {
		return actor.Func[string](func(actor.Context, string) error { return nil })
	})
	if _, err := supervisor.Start(sys, "app", []supervisor.ChildSpec{db}); err != nil {
		fmt.Println(err)
		return
	}

	mux := http.NewServeMux()
	mux.Handle("/debug/troupe/", http.StripPrefix("/debug/troupe", treeview.Handler(sys)))
	srv := httptest.NewServer(mux) // the application's server; the view opens none
	defer srv.Close()

	resp, err := srv.Client().Get(srv.URL + "/debug/troupe/?format=json")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var page treeview.Page
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.Header.Get("Content-Type"), "schema", page.Schema, "system", page.System)
	app := page.Nodes[0]
	fmt.Println(app.Path, app.Type, app.Status, app.Supervisor.Strategy)
	for _, c := range app.Children {
		fmt.Println(c.Path, c.Type, c.Status, c.Restart)
	}
	// Output:
	// application/json schema 1 system shop
	// /app supervisor running one_for_one
	// /app/db worker running permanent
}
