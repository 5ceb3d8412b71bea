package treeview

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// ssePage is a Page without its events, for the "snapshot" messages of a
// stream (the events come as messages of their own).
type ssePage struct {
	*Page
	Events []TailEvent `json:"events,omitempty"`
}

// serveEvents streams events and snapshots until the client goes away or
// the Source's events end. It runs on the request's goroutine and starts
// none: every wait below also waits for the request's context.
func (h *handler) serveEvents(w http.ResponseWriter, r *http.Request, limit int, sensitive bool) {
	if h.streams.Add(1) > maxStreams {
		h.streams.Add(-1)
		w.Header().Set("Retry-After", "5")
		http.Error(w, "treeview: too many event streams", http.StatusServiceUnavailable)
		return
	}
	defer h.streams.Add(-1)
	var last uint64
	if id, err := strconv.ParseUint(r.Header.Get("Last-Event-ID"), 10, 64); err == nil {
		last = id
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	rc := http.NewResponseController(w)
	ctx := r.Context()
	s := &stream{}
	last = h.hub.join(last)
	defer h.hub.leave(s)

	var buf bytes.Buffer
	send := func(event string, id uint64, v any) bool {
		buf.Reset()
		buf.WriteString("event: ")
		buf.WriteString(event)
		buf.WriteByte('\n')
		if id != 0 {
			buf.WriteString("id: ")
			buf.WriteString(strconv.FormatUint(id, 10))
			buf.WriteByte('\n')
		}
		buf.WriteString("data: ")
		b, err := json.Marshal(v) // one line: JSON escapes newlines
		if err != nil {
			return false
		}
		buf.Write(b)
		buf.WriteString("\n\n")
		_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout)) // unsupported: no deadline
		if _, err := w.Write(buf.Bytes()); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	snapshot := func() bool {
		p := h.page(ctx, limit, sensitive)
		return send("snapshot", 0, ssePage{Page: &p})
	}
	if !snapshot() {
		return
	}
	tick := time.NewTicker(h.cfg.refresh)
	defer tick.Stop()
	var soonT *time.Timer
	var soonC <-chan time.Time
	defer func() {
		if soonT != nil {
			soonT.Stop()
		}
	}()
	for {
		evs, ch, wake, ended := h.hub.next(s, last)
		for _, e := range redactEvents(evs, sensitive) {
			if !send("event", e.Seq, e) {
				return
			}
			last = e.Seq
		}
		if len(evs) > 0 && soonC == nil {
			soonT = time.NewTimer(soon)
			soonC = soonT.C
		}
		if ended {
			_ = send("end", 0, struct{}{})
			return
		}
		select {
		case <-ctx.Done():
			return
		case e, ok := <-ch:
			h.hub.got(e, ok)
		case <-wake:
		case <-soonC:
			soonT, soonC = nil, nil
			if !snapshot() {
				return
			}
		case <-tick.C:
			if !snapshot() {
				return
			}
		}
	}
}
