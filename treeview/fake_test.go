package treeview

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/troupe-go/troupe/observe"
)

// fakeSource is an observe.Source with a fixed snapshot (returned as is,
// slices shared, so a handler that modifies it is caught) and an event
// stream the test drives with emit.
type fakeSource struct {
	mu    sync.Mutex
	snap  observe.Snapshot
	block bool // Snapshot waits for its ctx to end
	opts  []observe.SnapshotOptions
	subs  []*fakeSub
}

func (f *fakeSource) Snapshot(ctx context.Context, opts observe.SnapshotOptions) observe.Snapshot {
	f.mu.Lock()
	f.opts = append(f.opts, opts)
	s, block := f.snap, f.block
	f.mu.Unlock()
	if block {
		<-ctx.Done()
		return observe.Snapshot{Schema: observe.SchemaVersion, System: s.System, Time: s.Time}
	}
	return s
}

func (f *fakeSource) Subscribe(buffer int) observe.Subscription {
	s := &fakeSub{ch: make(chan observe.Event, buffer)}
	f.mu.Lock()
	f.subs = append(f.subs, s)
	f.mu.Unlock()
	return s
}

// emit offers e to every open subscription, without waiting.
func (f *fakeSource) emit(evs ...observe.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.subs {
		for _, e := range evs {
			s.offer(e)
		}
	}
}

// end closes every subscription's channel, as a System's Shutdown does.
func (f *fakeSource) end() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.subs {
		s.Close()
	}
}

// open counts the subscriptions not closed, and subscribed all of them.
func (f *fakeSource) open() (open, subscribed int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.subs {
		s.mu.Lock()
		if !s.closed {
			open++
		}
		s.mu.Unlock()
	}
	return open, len(f.subs)
}

type fakeSub struct {
	ch      chan observe.Event
	mu      sync.Mutex
	closed  bool
	dropped uint64
}

func (s *fakeSub) offer(e observe.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	select {
	case s.ch <- e:
	default:
		s.dropped++
	}
}

func (s *fakeSub) Events() <-chan observe.Event { return s.ch }

func (s *fakeSub) Dropped() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

func (s *fakeSub) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.ch)
	}
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func at(d time.Duration) *time.Time { t := t0.Add(d); return &t }

const (
	scriptName = "<script>alert(1)</script>"
	secret     = "password=hunter2"
)

// fixture is a fixed tree: a one-for-one supervisor with a worker that
// failed (bounded mailbox with drops), one in backoff and a one-for-all
// supervisor that did not answer, holding a worker named like a script
// tag; an actor on its own; and a pipeline of three stages.
func fixture() observe.Snapshot {
	return observe.Snapshot{
		Schema: observe.SchemaVersion, System: "shop", Time: t0,
		Nodes: []observe.Node{{
			Name: "app", Path: "/app", Kind: "supervisor", Type: observe.TypeSupervisor, Status: observe.StatusRunning,
			Incarnation: 1, Started: at(-time.Hour), Restarts: 0,
			Supervisor: &observe.Supervisor{Strategy: "one_for_one", MaxRestarts: 5, PeriodSecond: 10, RestartsInWindow: 2,
				Restarts: 7, AutoShutdown: "never", Counts: observe.Counts{Specs: 3, Active: 2, Supervisors: 1, Workers: 2}},
			Children: []observe.Node{
				{Name: "db", Path: "/app/db", Kind: "shop.db", Type: observe.TypeWorker, Restart: "permanent",
					Status: observe.StatusRunning, Incarnation: 3, Started: at(-90 * time.Second), Restarts: 2,
					Mailbox:   observe.Mailbox{Depth: 13, Capacity: 16, Dropped: 4, Policy: "drop_newest"},
					Processed: 1200, Failures: 2,
					LastFailure: &observe.Failure{ID: 0x2a, Time: t0.Add(-90 * time.Second), ErrorType: observe.ErrorPanic,
						Message: "query failed: " + secret, Stack: "goroutine 7 [running]:\nshop.(*db).Receive()"}},
				{Name: "cache", Path: "/app/cache", Kind: "shop.cache", Type: observe.TypeWorker, Restart: "transient",
					Status: observe.StatusBackoff, NextStart: at(2500 * time.Millisecond), BackoffAttempt: 3, Incarnation: 5,
					Restarts: 4, Mailbox: observe.Mailbox{Policy: "block"}, Failures: 4},
				{Name: "inner", Path: "/app/inner", Kind: "supervisor", Type: observe.TypeSupervisor, Status: observe.StatusRunning,
					Incarnation: 1, Started: at(-time.Hour),
					Supervisor: &observe.Supervisor{Strategy: "one_for_all", MaxRestarts: 1, PeriodSecond: 5,
						AutoShutdown: "never", Counts: observe.Counts{Specs: 1, Active: 1, Workers: 1}, Unresponsive: true},
					Children: []observe.Node{{Name: scriptName, Path: "/app/inner/" + scriptName, Kind: `evil"kind\N`,
						Type: observe.TypeWorker, Status: observe.StatusRunning, Incarnation: 1, Started: at(-time.Minute),
						Mailbox: observe.Mailbox{Policy: "block"}}}},
			},
		}, {
			Name: "loner", Path: "/loner", Kind: "shop.loner", Type: observe.TypeActor, Status: observe.StatusStopped,
			Incarnation: 1, Mailbox: observe.Mailbox{Policy: "block"}, Processed: 3,
		}},
		Pipelines: []observe.Pipeline{{Name: "orders", State: "running", Stages: []observe.Stage{
			{Name: "parse", Inputs: []string{"kafka"}, Received: 100, Emitted: 99, Failures: 1, InFlight: 2, BlockedSeconds: 0.5,
				Workers: []observe.Worker{
					{Index: 0, Path: "/orders/parse/0", Status: observe.StatusRunning, Received: 50, Processed: 50},
					{Index: 1, Path: "/orders/parse/1", Status: observe.StatusRunning, Received: 50, Processed: 49, Queue: 1, Failures: 1}}},
			{Name: "enrich", Inputs: []string{"parse"}, Received: 99, Emitted: 97, DeadLettered: 2, InFlight: 1, BlockedSeconds: 3,
				Workers: []observe.Worker{
					{Index: 0, Path: "/orders/enrich/0", Status: observe.StatusRunning, Received: 33, Processed: 33},
					{Index: 1, Path: "/orders/enrich/1", Status: observe.StatusRestarting, Received: 33, Processed: 31, Restarts: 1},
					{Index: 2, Path: "/orders/enrich/2", Status: observe.StatusRunning, Received: 33, Processed: 33, Queue: 5}}},
			{Name: "sink", Inputs: []string{"enrich"}, Received: 97, Emitted: 97},
		}}},
		Kinds:         []observe.KindStats{{Kind: "shop.db", Spawns: 3, Running: 1, Restarts: 2, Processed: 1200, MailboxDepth: 13, MailboxMax: 13, MailboxLimit: 16, Failures: map[string]uint64{"panic": 2}, Dropped: map[string]uint64{"drop_newest": 4}}},
		DeadLetters:   map[string]uint64{"stopped": 2},
		EventsDropped: 1,
	}
}

// fixtureNodes is the number of nodes in fixture.
const fixtureNodes = 6

// fixtureEvents are the events of the failures in fixture.
func fixtureEvents() []observe.Event {
	return []observe.Event{
		{Kind: "failed", Path: "/app/db", Time: t0.Add(-90 * time.Second), FailureID: 0x2a, ErrorType: observe.ErrorPanic, Message: "query failed: " + secret},
		{Kind: "restarted", Path: "/app/db", Time: t0.Add(-90 * time.Second), FailureID: 0x2a},
		{Kind: "failed", Path: "/app/cache", Time: t0.Add(-time.Second), FailureID: 0x2b, ErrorType: observe.ErrorError, Message: "dial: " + secret},
		{Kind: "backoff", Path: "/app/cache", Time: t0.Add(-time.Second), FailureID: 0x2b, DelaySeconds: 3.5},
	}
}

// get serves one request from a loopback client.
func get(h http.Handler, target string, hdr ...string) *httptest.ResponseRecorder {
	return do(h, http.MethodGet, target, "127.0.0.1:40000", hdr...)
}

func do(h http.Handler, method, target, remote string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	r.RemoteAddr = remote
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// sseMsg is one message of an event stream.
type sseMsg struct{ event, id, data string }

// parseSSE splits a stream into messages; a partial last one is left out.
func parseSSE(t *testing.T, b []byte) []sseMsg {
	t.Helper()
	var out []sseMsg
	for _, block := range strings.SplitAfter(string(b), "\n\n") {
		if !strings.HasSuffix(block, "\n\n") {
			break
		}
		var m sseMsg
		sc := bufio.NewScanner(strings.NewReader(block))
		sc.Buffer(nil, 1<<22)
		for sc.Scan() {
			k, v, _ := strings.Cut(sc.Text(), ": ")
			switch k {
			case "event":
				m.event = v
			case "id":
				m.id = v
			case "data":
				m.data += v
			case "":
			default:
				t.Errorf("unexpected line %q in the stream", sc.Text())
			}
		}
		out = append(out, m)
	}
	return out
}

// streamRecorder is a ResponseWriter for a stream inside a synctest
// bubble: what the handler wrote can be read once it is blocked.
type streamRecorder struct {
	mu   sync.Mutex
	hdr  http.Header
	code int
	buf  bytes.Buffer
}

func newStreamRecorder() *streamRecorder { return &streamRecorder{hdr: http.Header{}} }

func (s *streamRecorder) Header() http.Header { return s.hdr }
func (s *streamRecorder) WriteHeader(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.code == 0 {
		s.code = code
	}
}
func (s *streamRecorder) Write(b []byte) (int, error) {
	s.WriteHeader(http.StatusOK)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(b)
}
func (s *streamRecorder) Flush() {}
func (s *streamRecorder) bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.buf.Bytes())
}

// startStream serves /events to a loopback client on a goroutine and
// returns its recorder, a cancel that disconnects it, and a channel
// closed when ServeHTTP returned.
func startStream(h http.Handler, hdr ...string) (*streamRecorder, context.CancelFunc, <-chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/events", nil)
	r.RemoteAddr = "127.0.0.1:40001"
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := newStreamRecorder()
	done := make(chan struct{})
	// Owner: the test; it ends when cancel is called (or the source ends
	// the events), and the test waits on done.
	go func() {
		defer close(done)
		h.ServeHTTP(w, r)
	}()
	return w, cancel, done
}
