// Servicetree: a rest-for-one supervision tree, db → cache → API handlers,
// and what a crash at each level restarts.
//
// The top supervisor starts db, then cache, then api, a nested one-for-one
// supervisor over two HTTP-style handlers. Rest-for-one encodes the
// dependencies: the cache depends on the db and the handlers on both, so a
// db crash stops what was started after it (api's handlers, then cache, in
// reverse start order) and starts db, cache and the handlers again, in
// order. The Start and Stop hooks print that order.
//
// A handler that crashes more often than api's restart intensity allows
// makes api give up: it stops its handlers and exits, which escalates the
// failure to the top supervisor, which restarts api with fresh handlers.
//
// What to copy: the child order as dependency order, NewSupervisor for a
// subtree with its own intensity, and Start/Stop hooks to open and close
// resources. Refs of a nested supervisor's children (LookupSupervisor,
// LookupChild) stay valid when that supervisor restarts: look them up once.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/supervisor"
)

// service is a worker that opens its resource in Start and closes it in
// Stop. The message "crash" makes it fail.
type service struct{ log *logger }

func (s *service) Start(ctx actor.Context) error {
	s.log.printf("start %s", ctx.Path())
	return nil
}

func (s *service) Stop(ctx actor.Context, r actor.ExitReason) {
	s.log.printf("stop  %s (%s)", ctx.Path(), r)
}

func (s *service) Receive(_ actor.Context, m string) error {
	if m == "crash" {
		return errors.New("connection reset")
	}
	return nil
}

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "servicetree:", err)
		os.Exit(1)
	}
}

func run(w io.Writer) error {
	log := &logger{w: w, lines: make(chan string, 256)}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	sys := actor.NewSystem(actor.WithEvents(func(e actor.Event) {
		switch e.Kind {
		case actor.EventFailed, actor.EventGaveUp, actor.EventEscalated:
			log.printf("%-9s %s: %v", e.Kind, e.Path, e.Err)
		case actor.EventRestarted:
			log.printf("%-9s %s", e.Kind, e.Path)
		}
	}))
	defer sys.Shutdown(context.Background())

	worker := func(id string) supervisor.ChildSpec {
		// One attempt: a crash message is not redelivered after a restart.
		return supervisor.NewWorker(id, func() actor.Actor[string] { return &service{log: log} },
			actor.WithMaxAttempts(1))
	}
	api := supervisor.NewSupervisor("api", []supervisor.ChildSpec{worker("users"), worker("orders")},
		supervisor.WithStrategy(supervisor.OneForOne),
		supervisor.WithIntensity(1, time.Minute)) // a second crash within a minute: give up
	top, err := supervisor.Start(sys, "app", []supervisor.ChildSpec{worker("db"), worker("cache"), api},
		supervisor.WithStrategy(supervisor.RestForOne),
		supervisor.WithIntensity(3, time.Minute))
	if err != nil {
		return err
	}
	// A phase ends when app has restarted api, the last child.
	const ready = "restarted /app/api"

	log.printf("-- db crashes: cache and handlers restart after it")
	db, _ := supervisor.LookupChild[string](top, "db")
	if err := db.Tell(ctx, "crash"); err != nil {
		return err
	}
	if err := log.waitFor(ctx, ready); err != nil {
		return err
	}

	log.printf("-- users handler crashes twice: api gives up, app restarts api")
	apiSup, ok := supervisor.LookupSupervisor(top, "api")
	if !ok {
		return errors.New("no api supervisor")
	}
	users, ok := supervisor.LookupChild[string](apiSup, "users")
	if !ok {
		return errors.New("no users handler")
	}
	for range 2 {
		if err := users.Tell(ctx, "crash"); err != nil {
			return err
		}
	}
	if err := log.waitFor(ctx, ready); err != nil {
		return err
	}
	log.printf("-- stop: last started first")
	return top.Stop(ctx)
}

// logger serializes lines printed from the runtime's goroutines and keeps
// them in order so that run can wait for one.
type logger struct {
	mu    sync.Mutex
	w     io.Writer
	lines chan string // every line, in order; run reads it in waitFor
}

func (l *logger) printf(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintln(l.w, s)
	select { // a hook must not block: 256 lines is more than this demo prints
	case l.lines <- s:
	default:
	}
}

// waitFor consumes lines until it sees want.
func (l *logger) waitFor(ctx context.Context, want string) error {
	for {
		select {
		case s := <-l.lines:
			if s == want {
				return nil
			}
		case <-ctx.Done():
			return fmt.Errorf("waiting for %q: %w", want, ctx.Err())
		}
	}
}
