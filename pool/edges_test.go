package pool_test

import (
	"errors"
	"testing"
	"testing/synctest"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/internal/apiedge"
	"github.com/troupe-go/troupe/pool"
	"github.com/troupe-go/troupe/supervisor"
)

// An edge is one exported entry point that takes a context or options,
// called with nil there, and what the package doc's rule says happens.
// Each runs inside a synctest bubble, so a hang fails the test.
type edge struct {
	name string
	want string
	run  func(t *testing.T, sys *actor.System, out chan done)
}

func start(t *testing.T, sys *actor.System, out chan done, opts ...pool.Option) *pool.Pool[job] {
	t.Helper()
	p, err := pool.New(sys, "p", reporter(out), opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

// nilEdges lists every exported function and method of package pool that
// takes a context.Context, a variadic option list, or is an option
// constructor taking a value that can be nil. TestNilEdgesComplete checks
// the list against the package's API.
var nilEdges = []edge{
	{"New", "nil options are skipped", func(t *testing.T, sys *actor.System, out chan done) {
		p := start(t, sys, out, nil, pool.WithWorkers(2), nil)
		if p.Size() != 2 {
			t.Errorf("Size %d; want 2", p.Size())
		}
	}},
	{"Spec", "nil options are skipped", func(t *testing.T, sys *actor.System, out chan done) {
		p, spec, err := pool.Spec("s", reporter(out), nil, pool.WithWorkers(3))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := supervisor.Start(sys, "root", []supervisor.ChildSpec{spec}); err != nil {
			t.Fatal(err)
		}
		if p.Size() != 3 {
			t.Errorf("Size %d; want 3", p.Size())
		}
	}},
	{"WithWorkerOptions", "nil spawn options are skipped", func(t *testing.T, sys *actor.System, out chan done) {
		p := start(t, sys, out, pool.WithWorkerOptions(nil, actor.WithMaxAttempts(1), nil), pool.WithWorkers(1))
		if err := p.Tell(nil, job{id: 1}); err != nil {
			t.Fatal(err)
		}
		<-out
	}},
	{"WithSupervisor", "nil supervisor options are skipped", func(t *testing.T, sys *actor.System, out chan done) {
		p := start(t, sys, out, pool.WithSupervisor(nil, supervisor.WithIntensity(5, 1e9), nil), pool.WithWorkers(1))
		if err := p.Stop(nil); err != nil {
			t.Fatal(err)
		}
	}},
	{"Pool.Tell", "a nil ctx is Background", func(t *testing.T, sys *actor.System, out chan done) {
		p := start(t, sys, out, pool.WithWorkers(1))
		if err := p.Tell(nil, job{id: 1}); err != nil {
			t.Fatal(err)
		}
		if d := <-out; d.job.id != 1 {
			t.Errorf("got %+v", d)
		}
	}},
	{"Pool.Broadcast", "a nil ctx is Background", func(t *testing.T, sys *actor.System, out chan done) {
		p := start(t, sys, out, pool.WithWorkers(2))
		if err := p.Broadcast(nil, job{id: 1}); err != nil {
			t.Fatal(err)
		}
		<-out
		<-out
	}},
	{"Ask", "a nil ctx is Background", func(t *testing.T, sys *actor.System, out chan done) {
		p, err := pool.New(sys, "ask", func() actor.Actor[question] {
			return actor.Func[question](func(c actor.Context, q question) error { return q.reply.Send(c, "ok") })
		}, pool.WithWorkers(1))
		if err != nil {
			t.Fatal(err)
		}
		s, err := pool.Ask(nil, p, func(r actor.Reply[string]) question { return question{reply: r} })
		if err != nil || s != "ok" {
			t.Errorf("Ask: %q, %v; want ok", s, err)
		}
	}},
	{"Pool.Stop", "a nil ctx waits as long as it takes", func(t *testing.T, sys *actor.System, out chan done) {
		p := start(t, sys, out, pool.WithWorkers(1))
		if err := p.Stop(nil); err != nil {
			t.Fatal(err)
		}
	}},
	{"Pool.Wait", "a nil ctx waits until the pool stopped", func(t *testing.T, sys *actor.System, out chan done) {
		p := start(t, sys, out, pool.WithWorkers(1))
		go func() { _ = p.Stop(nil) }() // Owner: this edge; it ends when the pool stopped.
		if err := p.Wait(nil); err != nil {
			t.Fatal(err)
		}
	}},
	{"Pool.Run", "a nil ctx runs until the pool stops by itself", func(t *testing.T, sys *actor.System, out chan done) {
		p := start(t, sys, out, pool.WithWorkers(1))
		res := make(chan error, 1)
		go func() { res <- p.Run(nil) }() // Owner: this edge; it ends when the pool stopped.
		if err := p.Supervisor().Stop(nil); err != nil {
			t.Fatal(err)
		}
		if err := <-res; err != nil && !errors.Is(err, actor.ErrStopped) {
			t.Errorf("Run: %v; want nil", err)
		}
	}},
}

func TestNilEdges(t *testing.T) {
	for _, e := range nilEdges {
		t.Run(e.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sys := actor.NewSystem()
				defer sys.Shutdown(nil)
				e.run(t, sys, make(chan done, 8))
			})
		})
	}
}

// TestNilEdgesComplete checks that nilEdges lists exactly the exported
// entry points of the package that take a context or options, and that
// the package doc states the rule.
func TestNilEdgesComplete(t *testing.T) {
	names := make([]string, len(nilEdges))
	for i, e := range nilEdges {
		names[i] = e.name
	}
	apiedge.Complete(t, ".", names)
}
