package treeview

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/troupe-go/troupe/observe"
)

const (
	// Defaults of the options.
	defaultLimit           = 2000
	defaultSnapshotTimeout = 250 * time.Millisecond
	defaultEventTail       = 200
	defaultRefresh         = time.Second

	// lease is how long a request that is not a stream keeps the event
	// subscription open after it.
	lease = 30 * time.Second
	// soon is how long after events a stream sends a snapshot.
	soon = 100 * time.Millisecond
	// maxStreams caps the /events streams served at once; more get 503.
	maxStreams = 32
	// writeTimeout bounds each write of a stream, so a client that stops
	// reading ends its stream instead of holding the event pump.
	writeTimeout = 10 * time.Second
)

// An Option configures a Handler.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	authorize func(*http.Request) (view, sensitive bool)
	limit     int
	timeout   time.Duration
	tail      int
	refresh   time.Duration
}

// buildConfig sets every default in one place, then applies opts.
func buildConfig(opts []Option) config {
	c := config{authorize: loopbackOnly, limit: defaultLimit, timeout: defaultSnapshotTimeout,
		tail: defaultEventTail, refresh: defaultRefresh}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	return c
}

// WithAuthorize sets who may see the view: f returns whether the request
// may see it at all (if not, the answer is 403) and whether it may see
// sensitive detail (failure and event messages, stacks). f is called for
// every request, concurrently. The default, also used for a nil f,
// allows loopback clients (by the request's RemoteAddr) and shows them
// nothing sensitive.
func WithAuthorize(f func(r *http.Request) (view, sensitive bool)) Option {
	return optionFunc(func(c *config) {
		if f != nil {
			c.authorize = f
		}
	})
}

// WithLimit caps the nodes in one response at n (and the workers shown
// per pipeline stage); the rest are counted in "truncated". The default,
// also used for n <= 0, is 2000. A request can lower it with the
// query parameter limit.
func WithLimit(n int) Option {
	return optionFunc(func(c *config) {
		if n > 0 {
			c.limit = n
		}
	})
}

// WithSnapshotTimeout bounds each snapshot: the Source gets a context
// that ends after d, and a supervisor that has not answered by then is
// shown as unresponsive. The default, also used for d <= 0, is
// 250ms.
func WithSnapshotTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d > 0 {
			c.timeout = d
		}
	})
}

// WithEventTail keeps the n most recent events for the view (default
// 200). n <= 0 turns events off: the handler never
// subscribes to the Source and shows snapshots only.
func WithEventTail(n int) Option {
	return optionFunc(func(c *config) { c.tail = max(n, 0) })
}

// WithRefresh sets how often an /events stream sends a snapshot when
// nothing happens. The default, also used for d <= 0, is one second.
func WithRefresh(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d > 0 {
			c.refresh = d
		}
	})
}

// loopbackOnly is the default authorization: loopback clients only,
// nothing sensitive.
func loopbackOnly(r *http.Request) (view, sensitive bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	return ip != nil && ip.IsLoopback(), false
}

// A Page is the JSON the handler serves: the Source's snapshot, cut to
// the node cap and redacted unless the reader may see sensitive detail,
// with the recent events.
type Page struct {
	observe.Snapshot
	// Events are the recent events, oldest first. In the JSON response
	// they are always present ([] when there are none); in the
	// "snapshot" messages of /events they are left out.
	Events []TailEvent `json:"events"`
	// Limit is the node cap this response was cut to.
	Limit int `json:"limit"`
	// Redacted says failure and event messages and stacks were blanked.
	Redacted bool `json:"redacted"`
	// TimedOut says the snapshot timeout passed while the Source took the
	// snapshot: some supervisors may be shown as unresponsive.
	TimedOut bool `json:"timed_out,omitempty"`
}

// A TailEvent is an event of the tail, numbered in the order the handler
// received it (Seq starts at 1 and never repeats within one handler).
type TailEvent struct {
	Seq uint64 `json:"seq"`
	observe.Event
}

// Handler returns the handler of the live view of src; see the package
// doc for its routes. It starts nothing until a request comes.
func Handler(src observe.Source, opts ...Option) http.Handler {
	cfg := buildConfig(opts)
	return &handler{src: src, cfg: cfg, hub: newHub(src, cfg.tail)}
}

type handler struct {
	src     observe.Source
	cfg     config
	hub     *hub
	streams atomic.Int32 // /events streams being served
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		http.Error(w, "treeview: the view is read-only", http.StatusMethodNotAllowed)
		return
	}
	view, sensitive := h.cfg.authorize(r)
	if !view {
		http.Error(w, "treeview: forbidden", http.StatusForbidden)
		return
	}
	if h.src == nil {
		http.Error(w, "treeview: Handler was given a nil Source", http.StatusInternalServerError)
		return
	}
	limit := h.cfg.limit
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			http.Error(w, "treeview: limit must be a positive integer", http.StatusBadRequest)
			return
		}
		limit = min(n, limit)
	}
	switch r.URL.Path {
	case "", "/":
		h.servePage(w, r, limit, sensitive)
	case "/events":
		h.serveEvents(w, r, limit, sensitive)
	default:
		http.NotFound(w, r)
	}
}

// page takes a snapshot bounded by the snapshot timeout and shapes it.
func (h *handler) page(ctx context.Context, limit int, sensitive bool) Page {
	sctx, cancel := context.WithTimeout(ctx, h.cfg.timeout)
	snap := h.src.Snapshot(sctx, observe.SnapshotOptions{Limit: limit})
	timedOut := sctx.Err() != nil && ctx.Err() == nil
	cancel()
	return Page{Snapshot: shape(snap, limit, sensitive), Limit: limit, Redacted: !sensitive, TimedOut: timedOut}
}

func (h *handler) servePage(w http.ResponseWriter, r *http.Request, limit int, sensitive bool) {
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "html"
		if wantsJSON(r.Header.Get("Accept")) {
			format = "json"
		}
	}
	var write func(*bytes.Buffer, *Page) error
	var ctype string
	switch format {
	case "html":
		write, ctype = writeHTML, "text/html; charset=utf-8"
		w.Header().Set("Content-Security-Policy", csp)
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("X-Frame-Options", "DENY")
	case "json":
		write, ctype = writeJSON, "application/json"
	case "dot":
		write, ctype = writeDOT, "text/vnd.graphviz; charset=utf-8"
	case "mermaid":
		write, ctype = writeMermaid, "text/plain; charset=utf-8"
	default:
		http.Error(w, fmt.Sprintf("treeview: unknown format %q; want html, json, dot or mermaid", format), http.StatusBadRequest)
		return
	}
	p := h.page(r.Context(), limit, sensitive)
	var tail []TailEvent
	if format == "html" || format == "json" { // the graphs show no events
		tail = h.hub.touch()
	}
	p.Events = redactEvents(tail, sensitive)
	var buf bytes.Buffer
	if err := write(&buf, &p); err != nil {
		http.Error(w, "treeview: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	_, _ = w.Write(buf.Bytes())
}

func writeJSON(buf *bytes.Buffer, p *Page) error {
	enc := json.NewEncoder(buf)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}

// wantsJSON reports whether an Accept header asks for JSON and not HTML.
func wantsJSON(accept string) bool {
	json, html := false, false
	for _, part := range strings.Split(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "application/json":
			json = true
		case "text/html", "application/xhtml+xml":
			html = true
		}
	}
	return json && !html
}

// shape cuts s to limit nodes in walk order (parents before children,
// children in start order), and to limit workers per stage, counting what
// it leaves out in Truncated, and blanks failure messages and stacks
// unless sensitive. It copies what it changes: s is not modified.
func shape(s observe.Snapshot, limit int, sensitive bool) observe.Snapshot {
	out := s
	if out.Schema == 0 {
		out.Schema = observe.SchemaVersion
	}
	budget := limit
	var cut int
	out.Nodes, cut = prune(s.Nodes, &budget, sensitive)
	if out.Nodes == nil {
		out.Nodes = []observe.Node{}
	}
	out.Truncated += cut
	if s.Pipelines != nil {
		out.Pipelines = make([]observe.Pipeline, len(s.Pipelines))
		for i, p := range s.Pipelines {
			p.Stages = append([]observe.Stage(nil), p.Stages...)
			for j := range p.Stages {
				if ws := p.Stages[j].Workers; len(ws) > limit {
					out.Truncated += len(ws) - limit
					p.Stages[j].Workers = ws[:limit:limit]
				}
			}
			out.Pipelines[i] = p
		}
	}
	return out
}

func prune(in []observe.Node, budget *int, sensitive bool) (out []observe.Node, cut int) {
	for i := range in {
		if *budget <= 0 {
			cut += 1 + count(in[i].Children)
			continue
		}
		*budget--
		n := in[i]
		if n.LastFailure != nil && !sensitive {
			f := *n.LastFailure
			f.Message, f.Stack = "", ""
			n.LastFailure = &f
		}
		var c int
		n.Children, c = prune(in[i].Children, budget, sensitive)
		cut += c
		out = append(out, n)
	}
	return out, cut
}

func count(ns []observe.Node) int {
	t := len(ns)
	for i := range ns {
		t += count(ns[i].Children)
	}
	return t
}

// redactEvents blanks the messages of evs unless sensitive, in place
// (evs is the handler's own copy), and never returns nil.
func redactEvents(evs []TailEvent, sensitive bool) []TailEvent {
	if evs == nil {
		return []TailEvent{}
	}
	if !sensitive {
		for i := range evs {
			evs[i].Message = ""
		}
	}
	return evs
}
