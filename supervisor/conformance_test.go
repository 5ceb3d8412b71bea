package supervisor_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/strategy"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/supervisor/internal/scn"
)

// TestOTPConformance runs every scenario of testdata/otp (or of the folder
// named by OTP_SCENARIOS) on troupe's supervisor, with real child actors
// that print their own start and stop lines, and compares the trace with
// the one real Erlang/OTP printed. See testdata/otp/FORMAT.md.
func TestOTPConformance(t *testing.T) {
	dir := filepath.Join("testdata", "otp")
	if d := os.Getenv("OTP_SCENARIOS"); d != "" {
		dir = d
	}
	runScenarios(t, dir)
}

// runScenarios runs every *.scn of dir as a subtest; a folder without
// scenarios, a scenario it cannot parse or a missing trace fails.
func runScenarios(t *testing.T, dir string) {
	files, err := filepath.Glob(filepath.Join(dir, "*.scn"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no *.scn scenarios in %s", dir)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".scn")
		t.Run(name, func(t *testing.T) {
			sc, err := scn.ParseFile(f)
			if err != nil {
				t.Fatalf("cannot parse scenario: %v", err)
			}
			want, err := os.ReadFile(strings.TrimSuffix(f, ".scn") + ".trace")
			if err != nil {
				t.Fatalf("no trace beside the scenario: %v", err)
			}
			var got string
			// A bubble deadlock panics; turn it into this scenario's
			// failure so the other scenarios still run.
			defer func() {
				if v := recover(); v != nil {
					t.Errorf("scenario %s did not complete: %v", f, v)
				}
			}()
			synctest.Test(t, func(t *testing.T) { got = runScenario(t, sc) })
			if got != string(want) {
				t.Errorf("trace mismatch for %s\n%s", f, lineDiff(string(want), got))
			}
		})
	}
}

// lineDiff shows both traces side by side from the first differing line.
func lineDiff(want, got string) string {
	w := strings.Split(strings.TrimSuffix(want, "\n"), "\n")
	g := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	var b strings.Builder
	first := -1
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		mark := "  "
		if wl != gl {
			mark = "!!"
			if first < 0 {
				first = i
			}
		}
		fmt.Fprintf(&b, "%s %3d  %-45s | %s\n", mark, i+1, wl, gl)
	}
	return fmt.Sprintf("first difference at line %d (OTP left, troupe right):\n%s", first+1, b.String())
}

const topName = "top"

type crashMsg struct{ reason string }

// runner drives one scenario. Its trace lines come from the children's own
// hooks (workers), from the runtime's events (supervisor children's starts
// and stops, kills), and from the API results.
type runner struct {
	t   *testing.T
	sys *actor.System
	top *supervisor.Supervisor

	mu       sync.Mutex
	lines    []string
	attempts map[string]int
	workers  map[string]actor.Ref[crashMsg] // current worker refs by scenario path
	supPaths map[string]bool                // scenario paths of supervisor children
	release  chan struct{}                  // closed at the end: frees stubborn children
}

func (r *runner) emit(format string, args ...any) {
	r.mu.Lock()
	r.lines = append(r.lines, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

// scnPath turns "/top/s/x" into "s.x".
func scnPath(actorPath string) (string, bool) {
	rest, ok := strings.CutPrefix(actorPath, "/"+topName+"/")
	if !ok {
		return "", false
	}
	return strings.ReplaceAll(rest, "/", "."), true
}

func (r *runner) onEvent(e actor.Event) {
	p, ok := scnPath(e.Path)
	if !ok {
		return
	}
	r.mu.Lock()
	isSup := r.supPaths[p]
	r.mu.Unlock()
	switch e.Kind {
	case actor.EventKilled:
		r.emit("killed %s", p)
	case actor.EventStarted:
		if isSup {
			r.emit("start %s", p)
		}
	case actor.EventStopped:
		if isSup {
			r.emit("stop %s %s", p, reasonWord(e.Reason))
		}
	case actor.EventFailed:
		var se *actor.StartError
		if isSup && errors.As(e.Err, &se) {
			r.emit("start_failed %s", p)
		}
	}
}

func reasonWord(r actor.ExitReason) string {
	switch r {
	case actor.Normal:
		return "normal"
	case actor.Shutdown:
		return "shutdown"
	case actor.Killed:
		return "killed"
	}
	return "error"
}

// attempt counts one invocation of path's start function and reports
// whether it must fail (fail_starts).
func (r *runner) attempt(c *scn.Child) bool {
	r.mu.Lock()
	r.attempts[c.Path]++
	n := r.attempts[c.Path]
	r.mu.Unlock()
	return slices.Contains(c.FailStarts, n)
}

var errStartFailed = errors.New("start_failed")

// worker is a scenario worker: it prints its own start and stop lines.
type worker struct {
	r        *runner
	c        *scn.Child
	crashing bool
}

func (w *worker) Start(ctx actor.Context) error {
	if w.r.attempt(w.c) {
		w.r.emit("start_failed %s", w.c.Path)
		return errStartFailed
	}
	self, _ := actor.Self[crashMsg](ctx)
	w.r.mu.Lock()
	w.r.workers[w.c.Path] = self
	w.r.mu.Unlock()
	w.r.emit("start %s", w.c.Path)
	return nil
}

func (w *worker) Receive(_ actor.Context, m crashMsg) error {
	w.crashing = true
	switch m.reason {
	case "normal":
		return actor.StopNormal
	case "shutdown":
		return actor.StopShutdown
	}
	return errors.New(m.reason)
}

func (w *worker) Stop(_ actor.Context, reason actor.ExitReason) {
	if w.c.Stubborn && !w.crashing {
		// Ignore the shutdown request: block until the test ends. The
		// supervisor kills (abandons) it after its shutdown time.
		<-w.r.release
		return
	}
	w.r.emit("stop %s %s", w.c.Path, reasonWord(reason))
}

func (r *runner) spec(c *scn.Child) supervisor.ChildSpec {
	var cs supervisor.ChildSpec
	if c.Supervisor != nil {
		kids := make([]supervisor.ChildSpec, len(c.Children))
		for i, k := range c.Children {
			kids[i] = r.spec(k)
		}
		cs = supervisor.NewSupervisor(c.ID, kids, r.supOpts(c.Supervisor, func(actor.Context) error {
			if r.attempt(c) {
				return errStartFailed
			}
			return nil
		})...)
	} else {
		// A crash command is not redelivered to the restarted child: OTP
		// processes do not replay the message they died on.
		cs = supervisor.NewWorker(c.ID, func() actor.Actor[crashMsg] { return &worker{r: r, c: c} }, actor.WithMaxAttempts(1))
	}
	cs.Restart, _ = strategy.ParseRestart(c.Restart)
	cs.Significant = c.Significant
	switch c.Shutdown.Kind {
	case scn.BrutalKill:
		cs.Shutdown = actor.BrutalKill
	case scn.Infinity:
		cs.Shutdown = actor.Infinity
	default:
		cs.Shutdown = time.Duration(c.Shutdown.Millis) * time.Millisecond
		if cs.Shutdown == 0 {
			cs.Shutdown = time.Nanosecond // 0 in a ChildSpec means the default
		}
	}
	return cs
}

func (r *runner) supOpts(s *scn.SupSpec, init func(actor.Context) error) []supervisor.Option {
	k, err := strategy.ParseStrategy(s.Strategy)
	if err != nil {
		r.t.Fatal(err)
	}
	a, err := strategy.ParseAutoShutdown(s.AutoShutdown)
	if err != nil {
		r.t.Fatal(err)
	}
	opts := []supervisor.Option{
		supervisor.WithStrategy(k),
		supervisor.WithIntensity(s.Intensity, time.Duration(s.Period)*time.Second),
		supervisor.WithAutoShutdown(a),
	}
	if init != nil {
		opts = append(opts, supervisor.WithInit(init))
	}
	return opts
}

func (r *runner) markSups(cs []*scn.Child) {
	for _, c := range cs {
		if c.Supervisor != nil {
			r.supPaths[c.Path] = true
			r.markSups(c.Children)
		}
	}
}

// allSups returns the live supervisors, parents before their children.
func (r *runner) allSups(ctx context.Context) []*supervisor.Supervisor {
	out := []*supervisor.Supervisor{r.top}
	for i := 0; i < len(out); i++ {
		kids, err := out[i].WhichChildren(ctx)
		if err != nil {
			continue
		}
		for _, k := range kids {
			if k.Type == supervisor.TypeSupervisor && k.Status == strategy.Running {
				if s, ok := supervisor.LookupSupervisor(out[i], k.ID); ok {
					out = append(out, s)
				}
			}
		}
	}
	return out
}

// settle waits until the tree is quiescent: every goroutine is blocked,
// and every supervisor (deepest first) has served what it had queued.
func (r *runner) settle(ctx context.Context) {
	synctest.Wait()
	if r.topDown() {
		return
	}
	sups := r.allSups(ctx)
	for i := len(sups) - 1; i >= 0; i-- {
		_, _ = sups[i].WhichChildren(ctx)
	}
	synctest.Wait()
}

func (r *runner) topDown() bool {
	select {
	case <-r.top.Done():
		return true
	default:
		return false
	}
}

// supFor returns the supervisor that owns path and the child id in it.
func (r *runner) supFor(ctx context.Context, path string) (*supervisor.Supervisor, string) {
	parts := strings.Split(path, ".")
	s := r.top
	for _, id := range parts[:len(parts)-1] {
		n, ok := supervisor.LookupSupervisor(s, id)
		if !ok {
			r.t.Fatalf("no running supervisor %s", id)
		}
		s = n
	}
	return s, parts[len(parts)-1]
}

func result(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, supervisor.ErrNotFound):
		return "{error,not_found}"
	case errors.Is(err, supervisor.ErrRunning):
		return "{error,running}"
	case errors.Is(err, supervisor.ErrRestarting):
		return "{error,restarting}"
	case errors.Is(err, supervisor.ErrAlreadyStarted):
		return "{error,already_started}"
	case errors.Is(err, supervisor.ErrAlreadyPresent):
		return "{error,already_present}"
	case errors.Is(err, supervisor.ErrBadCombination):
		return "{error,bad_combination}"
	case errors.Is(err, supervisor.ErrStartFailed):
		return "{error,start_failed}"
	}
	return "{error," + err.Error() + "}"
}

func statusWord(s strategy.Status) string {
	switch s {
	case strategy.Running:
		return "up"
	case strategy.Restarting:
		return "restarting"
	}
	return "down"
}

func runScenario(t *testing.T, sc *scn.Scenario) string {
	r := &runner{
		t:        t,
		attempts: map[string]int{},
		workers:  map[string]actor.Ref[crashMsg]{},
		supPaths: map[string]bool{},
		release:  make(chan struct{}),
	}
	r.markSups(sc.Children)
	r.sys = actor.NewSystem(actor.WithEvents(r.onEvent))
	ctx := context.Background()
	defer func() {
		close(r.release)
		if err := r.sys.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}()

	specs := make([]supervisor.ChildSpec, len(sc.Children))
	for i, c := range sc.Children {
		specs[i] = r.spec(c)
	}
	top, err := supervisor.Start(r.sys, topName, specs, r.supOpts(&sc.SupSpec, nil)...)
	var cse *supervisor.ChildStartError
	switch {
	case err == nil:
		r.top = top
		r.emit("supervisor up")
	case errors.As(err, &cse):
		r.emit("supervisor start_failed failed_to_start_child %s", cse.ID)
		return r.trace()
	case errors.Is(err, supervisor.ErrBadCombination):
		r.emit("supervisor start_failed bad_combination")
		return r.trace()
	default:
		t.Fatalf("start: %v", err)
	}

	for _, st := range sc.Steps {
		switch st.Op {
		case "crash":
			r.emit("crash %s %s", st.Path, st.Reason)
			r.mu.Lock()
			ref, ok := r.workers[st.Path]
			r.mu.Unlock()
			if !ok {
				t.Fatalf("line %d: no worker %s", st.Line, st.Path)
			}
			if st.Reason == "kill" {
				ref.PID().Kill()
			} else if err := ref.Tell(ctx, crashMsg{reason: st.Reason}); err != nil {
				t.Fatalf("line %d: crash %s: %v", st.Line, st.Path, err)
			}
		case "terminate_child", "restart_child", "delete_child":
			s, id := r.supFor(ctx, st.Path)
			var err error
			switch st.Op {
			case "terminate_child":
				err = s.TerminateChild(ctx, id)
			case "restart_child":
				err = s.RestartChild(ctx, id)
			default:
				err = s.DeleteChild(ctx, id)
			}
			r.emit("call %s %s -> %s", st.Op, st.Path, result(err))
		case "start_child":
			s, _ := r.supFor(ctx, st.Path)
			r.mu.Lock()
			delete(r.supPaths, st.Path)
			r.mu.Unlock()
			err := s.StartChild(ctx, r.spec(st.Child))
			r.emit("call start_child %s -> %s", st.Path, result(err))
		case "which_children", "count_children":
			s := r.top
			prefix := ""
			if st.Path != "" {
				s, _ = r.supFor(ctx, st.Path+".x")
				prefix = st.Path + "."
			}
			if st.Op == "which_children" {
				kids, err := s.WhichChildren(ctx)
				if err != nil {
					t.Fatalf("line %d: which_children: %v", st.Line, err)
				}
				var b strings.Builder
				b.WriteString("children")
				for _, k := range kids {
					fmt.Fprintf(&b, " %s%s:%s", prefix, k.ID, statusWord(k.Status))
				}
				r.emit("%s", b.String())
			} else {
				n, err := s.CountChildren(ctx)
				if err != nil {
					t.Fatalf("line %d: count_children: %v", st.Line, err)
				}
				r.emit("count specs=%d active=%d supervisors=%d workers=%d", n.Specs, n.Active, n.Supervisors, n.Workers)
			}
		case "sleep":
			r.emit("sleep %d", st.Millis)
			time.Sleep(time.Duration(st.Millis) * time.Millisecond)
		case "stop":
			if err := r.top.Stop(ctx); err != nil {
				t.Fatalf("stop: %v", err)
			}
			r.emit("supervisor down shutdown")
			return r.trace()
		default:
			t.Fatalf("line %d: unknown step %q", st.Line, st.Op)
		}
		r.settle(ctx)
		if r.topDown() {
			r.emit("supervisor down shutdown")
			return r.trace()
		}
	}
	out := r.trace() // the teardown is not part of the trace
	_ = r.top.Stop(ctx)
	return out
}

func (r *runner) trace() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n") + "\n"
}
