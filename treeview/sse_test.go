package treeview

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/observe"
)

func decodeEvent(t *testing.T, m sseMsg) TailEvent {
	t.Helper()
	var e TailEvent
	if err := json.Unmarshal([]byte(m.data), &e); err != nil {
		t.Fatalf("event %q: %v", m.data, err)
	}
	return e
}

// kinds lists the messages of a stream as "snapshot" or "event:<kind>:<path>".
func kinds(t *testing.T, msgs []sseMsg) []string {
	var out []string
	for _, m := range msgs {
		switch m.event {
		case "event":
			e := decodeEvent(t, m)
			out = append(out, "event:"+e.Kind+":"+e.Path)
		default:
			out = append(out, m.event)
		}
	}
	return out
}

// TestStream checks an /events stream in a synctest bubble: a snapshot
// first, events pushed through the Source as they come (messages blanked,
// SSE ids their Seq), a snapshot shortly after events and every refresh
// interval; and that disconnecting ends the handler's goroutine and the
// subscription.
func TestStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{snap: fixture()}
		h := Handler(src, WithRefresh(5*time.Second))
		w, cancel, done := startStream(h)
		synctest.Wait()
		if w.code != http.StatusOK || w.hdr.Get("Content-Type") != "text/event-stream" || w.hdr.Get("Cache-Control") != "no-store" {
			t.Fatalf("stream answered %d %v", w.code, w.hdr)
		}
		msgs := parseSSE(t, w.bytes())
		if got := strings.Join(kinds(t, msgs), " "); got != "snapshot" {
			t.Fatalf("stream starts with %q; want one snapshot", got)
		}
		var first map[string]any
		if err := json.Unmarshal([]byte(msgs[0].data), &first); err != nil || first["schema"] != 1.0 || first["system"] != "shop" {
			t.Errorf("first snapshot %v (%v): want the page", first, err)
		}
		if _, ok := first["events"]; ok {
			t.Error("a snapshot message carries events; they come as messages of their own")
		}

		evs := fixtureEvents()
		src.emit(evs[0], evs[1])
		synctest.Wait()
		msgs = parseSSE(t, w.bytes())
		if got := strings.Join(kinds(t, msgs), " "); got != "snapshot event:failed:/app/db event:restarted:/app/db" {
			t.Fatalf("after two events: %q", got)
		}
		e := decodeEvent(t, msgs[1])
		if msgs[1].id != "1" || e.Seq != 1 || e.FailureID != 0x2a || e.ErrorType != "panic" || e.Message != "" {
			t.Errorf("event message id %q: %+v; want seq 1 with its failure ID, message blanked", msgs[1].id, e)
		}
		time.Sleep(soon)
		synctest.Wait()
		if got := kinds(t, parseSSE(t, w.bytes())); len(got) != 4 || got[3] != "snapshot" {
			t.Errorf("no snapshot shortly after events: %q", got)
		}
		time.Sleep(5*time.Second - soon)
		synctest.Wait()
		if got := kinds(t, parseSSE(t, w.bytes())); len(got) != 5 || got[4] != "snapshot" {
			t.Errorf("no snapshot at the refresh interval: %q", got)
		}
		if open, _ := src.open(); open != 1 {
			t.Errorf("%d subscriptions open while a stream is connected; want 1", open)
		}

		cancel()
		synctest.Wait()
		select {
		case <-done:
		default:
			t.Fatal("the handler goroutine is still running after the client went away")
		}
		if open, _ := src.open(); open != 0 {
			t.Errorf("%d subscriptions open after the only stream ended; want 0", open)
		}
	})
}

// TestStreamOverHTTP checks a stream through a real server: the client
// gets the event pushed through the Source, and closing the connection
// ends the handler (goleak checks nothing is left when the test ends).
func TestStreamOverHTTP(t *testing.T) {
	src := &fakeSource{snap: fixture()}
	served := make(chan struct{}, 1)
	h := Handler(src)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		if r.URL.Path == "/events" {
			served <- struct{}{}
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout(t))
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/events", nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	rd := bufio.NewReader(resp.Body)
	next := func() sseMsg {
		var block strings.Builder
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				t.Fatalf("reading the stream: %v", err)
			}
			block.WriteString(line)
			if line == "\n" {
				return parseSSE(t, []byte(block.String()))[0]
			}
		}
	}
	if m := next(); m.event != "snapshot" {
		t.Fatalf("first message %q; want snapshot", m.event)
	}
	src.emit(fixtureEvents()[2])
	for {
		m := next()
		if m.event == "event" {
			if e := decodeEvent(t, m); e.Path != "/app/cache" || e.FailureID != 0x2b {
				t.Errorf("event %+v; want the failure of /app/cache", e)
			}
			break
		}
	}
	resp.Body.Close()
	select {
	case <-served:
	case <-ctx.Done():
		t.Fatal("the handler still serves the stream after the client closed it")
	}
}

// testTimeout is what is left of the test's deadline, less a margin for
// reporting, at most a minute.
func testTimeout(t *testing.T) time.Duration {
	d := time.Minute
	if dl, ok := t.Deadline(); ok {
		d = min(d, time.Until(dl)*9/10)
	}
	return d
}

// TestStreamEnds checks that a stream ends, with an "end" message, when
// the Source ends its events (the System shut down), after sending the
// events it had.
func TestStreamEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{snap: fixture()}
		w, cancel, done := startStream(Handler(src))
		defer cancel()
		synctest.Wait()
		src.emit(fixtureEvents()[0])
		src.end()
		synctest.Wait()
		select {
		case <-done:
		default:
			t.Fatal("the stream goes on after the Source ended its events")
		}
		if got := strings.Join(kinds(t, parseSSE(t, w.bytes())), " "); got != "snapshot event:failed:/app/db end" {
			t.Errorf("stream %q; want snapshot, the event, end", got)
		}
	})
}

// TestStreams checks that every connected stream gets every event in
// order, also after the stream that read the subscription went away, and
// that a stream resuming with Last-Event-ID gets only what it missed.
func TestStreams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{snap: fixture()}
		h := Handler(src, WithRefresh(time.Hour))
		w1, cancel1, done1 := startStream(h)
		w2, cancel2, done2 := startStream(h)
		defer cancel2()
		synctest.Wait()
		evs := fixtureEvents()
		src.emit(evs[0], evs[1])
		synctest.Wait()
		cancel1() // one of the two is the pump; either way the other goes on
		<-done1
		src.emit(evs[2], evs[3])
		synctest.Wait()
		seqs := func(w *streamRecorder) (out []uint64) {
			for _, m := range parseSSE(t, w.bytes()) {
				if m.event == "event" {
					out = append(out, decodeEvent(t, m).Seq)
				}
			}
			return out
		}
		if got := seqs(w1); len(got) != 2 || got[0] != 1 || got[1] != 2 {
			t.Errorf("first stream got events %v; want 1 2", got)
		}
		if got := seqs(w2); len(got) != 4 || got[0] != 1 || got[3] != 4 {
			t.Errorf("second stream got events %v; want 1 2 3 4", got)
		}
		if _, n := src.open(); n != 1 {
			t.Errorf("%d subscriptions for two streams; want 1", n)
		}
		w3, cancel3, done3 := startStream(h, "Last-Event-ID", "3")
		synctest.Wait()
		if got := seqs(w3); len(got) != 1 || got[0] != 4 {
			t.Errorf("stream resuming after 3 got %v; want 4", got)
		}
		w4, cancel4, done4 := startStream(h, "Last-Event-ID", "99")
		synctest.Wait()
		if got := seqs(w4); len(got) != 4 || got[0] != 1 {
			t.Errorf("stream resuming after 99 (of another process) got %v; want 1 2 3 4", got)
		}
		cancel4()
		<-done4
		cancel3()
		cancel2()
		<-done2
		<-done3
		if open, _ := src.open(); open != 0 {
			t.Errorf("%d subscriptions open after every stream ended; want 0", open)
		}
	})
}

// TestLease checks when the handler watches the Source: a page request
// opens the subscription and keeps it for the lease, events between polls
// are kept (the newest of them, up to the tail), and the subscription is
// closed when nobody asked for the lease; with the tail off it never
// subscribes.
func TestLease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{snap: fixture()}
		h := Handler(src, WithEventTail(3))
		if p := decodePage(t, get(h, "/?format=json")); len(p.Events) != 0 || p.Events == nil {
			t.Errorf("first request: events %v; want []", p.Events)
		}
		src.emit(fixtureEvents()...)
		time.Sleep(lease - time.Second)
		p := decodePage(t, get(h, "/?format=json"))
		if len(p.Events) != 3 || p.Events[0].Seq != 2 || p.Events[2].Seq != 4 {
			t.Errorf("second request: events %+v; want the newest 3 (seq 2-4)", p.Events)
		}
		time.Sleep(lease - time.Second) // the second request extended the lease
		if open, _ := src.open(); open != 1 {
			t.Errorf("%d subscriptions open within the lease; want 1", open)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if open, n := src.open(); open != 0 || n != 1 {
			t.Errorf("after the lease: %d open of %d; want 0 of 1", open, n)
		}
		if p := decodePage(t, get(h, "/?format=json")); len(p.Events) != 0 {
			t.Errorf("after the lease the tail is kept: %+v", p.Events)
		}
		if _, n := src.open(); n != 2 {
			t.Errorf("a request after the lease did not subscribe again (%d subscriptions)", n)
		}

		graphs := &fakeSource{snap: fixture()}
		hg := Handler(graphs)
		get(hg, "/?format=dot")
		get(hg, "/?format=mermaid")
		if _, n := graphs.open(); n != 0 {
			t.Errorf("graph requests subscribed %d times; want none (they show no events)", n)
		}

		off := &fakeSource{snap: fixture()}
		ho := Handler(off, WithEventTail(0))
		get(ho, "/")
		w, cancel, done := startStream(ho)
		synctest.Wait()
		if _, n := off.open(); n != 0 {
			t.Errorf("WithEventTail(0): %d subscriptions; want none", n)
		}
		if got := kinds(t, parseSSE(t, w.bytes())); len(got) != 1 || got[0] != "snapshot" {
			t.Errorf("WithEventTail(0) stream: %q", got)
		}
		cancel()
		<-done
	})
}

// TestStreamCap checks that streams past the cap are refused with 503,
// and that a stream that ends frees its place.
func TestStreamCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := Handler(&fakeSource{snap: fixture()})
		var cancels []context.CancelFunc
		var dones []<-chan struct{}
		for range maxStreams {
			_, c, d := startStream(h)
			cancels, dones = append(cancels, c), append(dones, d)
		}
		synctest.Wait()
		if w := get(h, "/events"); w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
			t.Errorf("stream %d: %d; want 503 with Retry-After", maxStreams+1, w.Code)
		}
		cancels[0]()
		<-dones[0]
		w, c, d := startStream(h)
		synctest.Wait()
		if w.code != http.StatusOK {
			t.Errorf("a stream after one ended: %d; want 200", w.code)
		}
		c()
		<-d
		for i := 1; i < len(cancels); i++ {
			cancels[i]()
			<-dones[i]
		}
	})
}

// TestStreamSnapshotTimeout checks that a stream to a Source that never
// answers still sends its snapshots, each after the snapshot timeout.
func TestStreamSnapshotTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := Handler(&fakeSource{snap: fixture(), block: true})
		start := time.Now()
		w, cancel, done := startStream(h)
		defer func() { cancel(); <-done }()
		synctest.Wait()
		if len(parseSSE(t, w.bytes())) != 0 || time.Since(start) != 0 {
			t.Fatal("the stream wrote before the snapshot timed out")
		}
		time.Sleep(defaultSnapshotTimeout)
		synctest.Wait()
		msgs := parseSSE(t, w.bytes())
		var p Page
		if len(msgs) != 1 || json.Unmarshal([]byte(msgs[0].data), &p) != nil || !p.TimedOut {
			t.Errorf("after the timeout: %v; want a snapshot that timed out", msgs)
		}
	})
}

var _ observe.Source = (*fakeSource)(nil)
