package actor_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/actor"
)

var errRefused = errors.New("refused")

// req is a request to the replier actor.
type req struct {
	op    string // "double", "fail", "twice", "hold", "release"
	n     int
	reply actor.Reply[int]
}

// replier answers requests. "hold" keeps the reply slot without answering
// and reports that it got it; "release" answers the held slot and reports
// the result of Send.
type replier struct {
	held    actor.Reply[int]
	holding chan<- struct{}
	results chan<- error
}

func (r *replier) Receive(ctx actor.Context, m req) error {
	switch m.op {
	case "double":
		return m.reply.Send(ctx, 2*m.n)
	case "fail":
		return m.reply.Fail(ctx, errRefused)
	case "twice":
		if err := m.reply.Send(ctx, m.n); err != nil {
			return err
		}
		r.results <- m.reply.Send(ctx, m.n+1)
		r.results <- m.reply.Fail(ctx, errRefused)
	case "hold":
		r.held = m.reply
		r.holding <- struct{}{}
	case "release":
		r.results <- r.held.Send(ctx, m.n)
	}
	return nil
}

func ask(ctx context.Context, ref actor.Ref[req], op string, n int) (int, error) {
	return actor.Ask(ctx, ref, func(r actor.Reply[int]) req { return req{op: op, n: n, reply: r} })
}

// TestAsk covers Ask: a reply, a failure, a second reply, and the asker
// giving up (deadline or cancellation) before a late reply, which goes to
// dead letters.
func TestAsk(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newBubbleHarness(t)
		holding, results := make(chan struct{}, 1), make(chan error, 2)
		ref := mustSpawn(t, h.sys, "replier", func() actor.Actor[req] {
			return &replier{holding: holding, results: results}
		})
		bg := context.Background()

		if n, err := ask(bg, ref, "double", 21); n != 42 || err != nil {
			t.Errorf("Ask(double 21): got %d, %v; want 42, nil", n, err)
		}
		if n, err := ask(bg, ref, "fail", 1); !errors.Is(err, errRefused) || n != 0 {
			t.Errorf("Ask(fail): got %d, %v; want 0, %v", n, err, errRefused)
		}

		if n, err := ask(bg, ref, "twice", 7); n != 7 || err != nil {
			t.Errorf("Ask(twice 7): got %d, %v; want 7, nil", n, err)
		}
		if err := brecv(t, results, "second Send"); !errors.Is(err, actor.ErrAlreadyReplied) {
			t.Errorf("second Reply.Send: got %v; want %v", err, actor.ErrAlreadyReplied)
		}
		if err := brecv(t, results, "Fail after Send"); !errors.Is(err, actor.ErrAlreadyReplied) {
			t.Errorf("Reply.Fail after Send: got %v; want %v", err, actor.ErrAlreadyReplied)
		}

		giveUp := []struct {
			name string
			ctx  func() (context.Context, context.CancelFunc)
			// cancel is called once the actor holds the request.
			cancel bool
			want   error
			waited time.Duration
		}{
			{"deadline", func() (context.Context, context.CancelFunc) { return context.WithTimeout(bg, time.Second) }, false, context.DeadlineExceeded, time.Second},
			{"cancel", func() (context.Context, context.CancelFunc) { return context.WithCancel(bg) }, true, context.Canceled, 0},
		}
		for i, tc := range giveUp {
			ctx, cancel := tc.ctx()
			res := make(chan error, 1)
			start := time.Now()
			go func() { // returns when ctx ends: nobody replies before
				_, err := ask(ctx, ref, "hold", 0)
				res <- err
			}()
			brecv(t, holding, tc.name+": actor to hold the request")
			if tc.cancel {
				synctest.Wait()
				none(t, res, tc.name+": Ask before cancel")
				cancel()
			}
			if err := brecv(t, res, tc.name+": Ask to give up"); !errors.Is(err, tc.want) {
				t.Errorf("%s: Ask: got %v; want %v", tc.name, err, tc.want)
			}
			cancel()
			if d := time.Since(start); d != tc.waited {
				t.Errorf("%s: Ask waited: got %v; want %v", tc.name, d, tc.waited)
			}
			late := 100 + i
			mustTell(t, ref, req{op: "release", n: late})
			if err := brecv(t, results, tc.name+": late reply"); err != nil {
				t.Errorf("%s: late Reply.Send: got %v; want nil (the reply is dead-lettered)", tc.name, err)
			}
			d := h.dead.waitFor(t, "late reply dead letter", func(d actor.DeadLetter) bool {
				return d.Reason == actor.DeadReply && d.Message == late
			})
			if d.Attempts != 0 || !errors.Is(d.Err, actor.ErrAskerGone) {
				t.Errorf("%s: late reply dead letter: got %+v; want Attempts 0 and ErrAskerGone", tc.name, d)
			}
		}

		// Nothing is left waiting: the asks hold no goroutine.
		synctest.Wait()
		if n := h.sys.Goroutines(); n != 0 {
			t.Errorf("runtime goroutines while idle: got %d; want 0", n)
		}

		if err := ref.Stop(bg); err != nil {
			t.Fatalf("Stop: got %v; want nil", err)
		}
		if _, err := ask(bg, ref, "double", 1); !errors.Is(err, actor.ErrStopped) {
			t.Errorf("Ask to a stopped actor: got %v; want %v", err, actor.ErrStopped)
		}
		if _, err := ask(bg, actor.Ref[req]{}, "double", 1); !errors.Is(err, actor.ErrNilRef) {
			t.Errorf("Ask to a zero Ref: got %v; want %v", err, actor.ErrNilRef)
		}
		var zero actor.Reply[int]
		if zero.Valid() {
			t.Errorf("zero Reply.Valid: got true; want false")
		}
		if err := zero.Send(bg, 1); !errors.Is(err, actor.ErrNilRef) {
			t.Errorf("zero Reply.Send: got %v; want %v", err, actor.ErrNilRef)
		}
	})
}
