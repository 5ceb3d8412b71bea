package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/pipeline"
	"github.com/troupe-go/troupe/treeview"
)

// watcher serves the live view of a run (-serve): treeview.Handler over a
// System of its own named "chaos", which holds no actor and outlives the
// runs (each run's pipeline has a System of its own), so the
// view's System shows the pipeline's stages and workers (Pipeline.Observe,
// through RegisterPipeline) and passes on the pipeline's events, failure IDs
// included, to the view's event tail.
type watcher struct {
	view   *actor.System
	srv    *http.Server
	url    string
	served chan error
	cancel context.CancelFunc // ends the requests (open /events streams)
}

// watch listens on addr and serves the view of the run's pipeline p.
func watch(addr string, stderr io.Writer) (*watcher, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("-serve %s: %w", addr, err)
	}
	w := &watcher{view: actor.NewSystem(actor.WithName("chaos")), served: make(chan error, 1)}
	base, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	mux := http.NewServeMux()
	mux.Handle("/debug/troupe/", http.StripPrefix("/debug/troupe", treeview.Handler(w.view)))
	mux.Handle("/{$}", http.RedirectHandler("/debug/troupe/", http.StatusFound))
	w.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	// Owner: the watcher; it ends when close shuts the server down.
	go func() { w.served <- w.srv.Serve(ln) }()
	w.url = "http://" + ln.Addr().String() + "/debug/troupe/"
	fmt.Fprintf(stderr, "chaos: watch the run at %s (JSON: ?format=json, events: events)\n", w.url)
	return w, nil
}

// event passes a pipeline event on to the view; a nil watcher drops it.
func (w *watcher) event(e actor.Event) {
	if w != nil {
		w.view.Emit(e)
	}
}

// show adds p's stages to the view's snapshots.
func (w *watcher) show(p *pipeline.Pipeline) {
	if w != nil {
		w.view.RegisterPipeline(p.Observe)
	}
}

// close ends the open streams, shuts the server down and stops the view's
// System, waiting at most until ctx ends.
func (w *watcher) close(ctx context.Context) error {
	if w == nil {
		return nil
	}
	w.cancel()
	err := w.srv.Shutdown(ctx)
	if serr := <-w.served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return errors.Join(err, w.view.Shutdown(ctx))
}
