// Package treeview serves a live view of a troupe System's supervision
// tree: an [http.Handler] the user mounts on their own mux, showing the
// [observe.Snapshot] of an [observe.Source] (an *actor.System) as an HTML
// page, as JSON, as Graphviz DOT or Mermaid, and as a Server-Sent Events
// stream of lifecycle events and snapshots.
//
// Importing the package registers nothing and starts nothing: it opens no
// listener and touches no [http.DefaultServeMux]. Mount the handler where
// you want it, behind your own authentication when the listener is not
// loopback-only:
//
//	mux.Handle("/debug/troupe/", http.StripPrefix("/debug/troupe", treeview.Handler(sys)))
//
// # Routes
//
// Paths are relative to where the handler is mounted:
//
//   - "/" (and "" for the mount point itself): the HTML page, or the JSON
//     [Page] when the query says format=json or the Accept header asks for
//     application/json and not for text/html. format=dot and
//     format=mermaid return the tree and the pipelines as a graph.
//     limit=N lowers the node cap for one request.
//   - "/events": a text/event-stream of "event" messages (one [TailEvent]
//     each, newest last, with the SSE id set to its Seq so a reconnecting
//     client resumes with Last-Event-ID) and "snapshot" messages (a [Page]
//     without events) every refresh interval and shortly after events. It
//     ends when the client disconnects or the Source's event stream ends
//     (an "end" message).
//
// Every other path is 404; every method but GET and HEAD is 405. Every
// response carries Cache-Control: no-store.
//
// # Safety
//
// The view is read-only. By default only loopback clients may see it
// (as golang.org/x/net/trace allows), and failure and event messages and
// stacks, which may carry user data, are blanked; [WithAuthorize] replaces
// that rule. Behind a reverse proxy on the same host every client looks
// like loopback: supply an authorization function there.
//
// Output is bounded: at most the node cap of nodes (and of workers per
// pipeline stage), the rest counted in "truncated", and at most the event
// tail of events. A snapshot is bounded in time: the Source is given a
// context that ends after the snapshot timeout, and a supervisor that
// does not answer within it is shown as unresponsive (the response says
// "timed_out" when the deadline passed) instead of hanging the page (the
// handler relies on the Source keeping its promise to return when the
// context ends). At most 32 streams are served at once; more are refused
// with 503. The page is self-contained: its script and style are embedded, allowed by
// hash in a strict Content-Security-Policy, and every name is escaped by
// [html/template] on the server and set as text by the script.
//
// # The page
//
// The page draws the tree with each node's status (running green;
// starting, restarting and backoff amber, with a countdown to the next
// start; down, stopping and stopped grey; an unresponsive supervisor
// red), restart count, incarnation and uptime, a mailbox gauge, counters
// and last failure, and for a supervisor its strategy, a gauge of the
// restarts in the current period against its intensity, and its child
// counts; the pipelines with their stages and per-worker counters; and
// the recent events. Clicking a failure ID highlights every node and
// event that carries it. A restart seen in the events stays on screen for
// at least 700ms, even when the next snapshot already shows the actor
// running again.
//
// Its elements carry stable attributes for scripts and browser tests:
// a node is li.node with data-path, data-status (as in the JSON),
// data-type, data-restarts (its restart count), data-failure (its last
// failure's ID) and
// data-unresponsive="true"; a stage worker is tr.worker with data-path
// and data-status; an event is tr.ev with data-seq, data-kind, data-path
// and data-failure; #conn has data-state (live, reconnecting, ended).
//
// # Events
//
// The handler subscribes to the Source's events only while someone
// watches: while at least one /events stream is connected, and for a
// lease of 30 seconds after each request for the page or its JSON, so a
// client that polls the JSON sees the events between its polls (the
// first request opens the subscription and so shows none). When the last stream ends
// and the lease runs out the subscription is closed and the tail
// forgotten; the next request starts a new one. No goroutine of the
// handler outlives a request: the lease is a timer, and the one stream
// that reads the subscription at a time (the others wait on a broadcast)
// is the stream's own request goroutine.
//
// # Nil
//
// A nil option is ignored. Handler(nil) returns a handler that answers
// 500 with a message saying so.
package treeview
