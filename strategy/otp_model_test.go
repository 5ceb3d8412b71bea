package strategy_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/troupe-go/troupe/strategy"
)

// TestOTPScenariosModel replays the OTP conformance scenarios (FORMAT.md)
// through a small model of the reference algorithm of FORMAT §5 in which
// every decision (exit handling, intensity, group plans, auto shutdown,
// spec validation) is taken by this package, and compares the printed
// trace with the one OTP 25 produced. It checks that the decisions compose
// into OTP's exact order of starts and stops; it says nothing about the
// real supervisor, which has its own conformance test. OTP_SCENARIOS=DIR
// runs the scenarios of another folder.
func TestOTPScenariosModel(t *testing.T) {
	dir := os.Getenv("OTP_SCENARIOS")
	if dir == "" {
		dir = filepath.Join("..", "supervisor", "testdata", "otp")
	}
	// A missing or empty folder fails, as in the supervisor's conformance
	// test: a check that finds nothing to check must not pass.
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
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(strings.TrimSuffix(f, ".scn") + ".trace")
			if err != nil {
				t.Fatalf("no trace beside the scenario: %v", err)
			}
			got, err := runModel(string(src))
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("trace mismatch\n--- got\n%s--- want\n%s", got, want)
			}
		})
	}
}

// supDef is the static definition of a supervisor.
type supDef struct {
	kind      strategy.Strategy
	intensity int
	period    time.Duration
	auto      strategy.AutoShutdown
	children  []*childDef
}

// childDef is one child spec.
type childDef struct {
	path, id    string
	restart     strategy.Restart
	shutdown    string // "brutal_kill", "infinity" or milliseconds
	significant bool
	stubborn    bool
	failStarts  []int
	sup         *supDef // nil for a worker
}

type mSup struct {
	def       *supDef
	children  []*mChild
	intensity *strategy.Intensity
	owner     *mChild // nil at the top level
	parent    *mSup
}

type mChild struct {
	def    *childDef
	status strategy.Status
	inst   *mSup // the running instance of a supervisor child
}

type model struct {
	out      strings.Builder
	attempts map[string]int
	now      time.Time
	top      *mSup
	done     bool // the top-level supervisor is gone
}

func (m *model) emit(format string, args ...any) { fmt.Fprintf(&m.out, format+"\n", args...) }

func specs(s *mSup) []strategy.ChildState {
	out := make([]strategy.ChildState, len(s.children))
	for i, c := range s.children {
		out[i] = strategy.ChildState{ID: c.def.id, Restart: c.def.restart, Significant: c.def.significant, Status: c.status}
	}
	return out
}

func (m *model) newSup(d *supDef, owner *mChild, parent *mSup) *mSup {
	s := &mSup{def: d, intensity: strategy.NewIntensity(d.intensity, d.period), owner: owner, parent: parent}
	for _, cd := range d.children {
		s.children = append(s.children, &mChild{def: cd, status: strategy.Down})
	}
	return s
}

func (m *model) startFn(s *mSup, c *mChild) bool {
	p := c.def.path
	m.attempts[p]++
	if slices.Contains(c.def.failStarts, m.attempts[p]) {
		m.emit("start_failed %s", p)
		return false
	}
	if c.def.sup == nil {
		m.emit("start %s", p)
		return true
	}
	inst := m.newSup(c.def.sup, c, s)
	if ok, _ := m.init(inst); ok {
		c.inst = inst
		m.emit("start %s", p)
		return true
	}
	m.emit("start_failed %s", p)
	return false
}

// init starts the children of s; on failure it returns the reason as
// printed at the top level.
func (m *model) init(s *mSup) (bool, string) {
	if err := strategy.ValidateSpecs(s.def.auto, specs(s)); err != nil {
		return false, "bad_combination"
	}
	var started []*mChild
	for _, k := range s.children {
		if m.startFn(s, k) {
			k.status = strategy.Running
			started = append(started, k)
			continue
		}
		for _, j := range slices.Backward(started) {
			m.shutdown(j)
		}
		return false, "failed_to_start_child " + k.def.id
	}
	return true, ""
}

func (m *model) shutdown(k *mChild) {
	switch {
	case k.def.shutdown == "brutal_kill":
		m.emit("killed %s", k.def.path)
	case k.def.sup != nil:
		m.terminateAll(k.inst)
		m.emit("stop %s shutdown", k.def.path)
	case k.def.stubborn:
		ms, _ := strconv.Atoi(k.def.shutdown)
		m.now = m.now.Add(time.Duration(ms) * time.Millisecond)
		m.emit("killed %s", k.def.path)
	default:
		m.emit("stop %s shutdown", k.def.path)
	}
	k.inst = nil
}

func (m *model) terminateAll(s *mSup) {
	for _, k := range slices.Backward(s.children) {
		if k.status == strategy.Running {
			m.shutdown(k)
		}
	}
}

func (m *model) remove(s *mSup, k *mChild) {
	s.children = slices.DeleteFunc(s.children, func(c *mChild) bool { return c == k })
}

// childExited handles a child's own exit; it reports whether s gives up.
func (m *model) childExited(s *mSup, k *mChild, reason strategy.ExitReason) bool {
	k.status = strategy.Down
	k.inst = nil
	action := strategy.OnExit(k.def.restart, reason)
	switch action {
	case strategy.ActionRestart:
		return m.restart(s, k)
	case strategy.ActionRemoveSpec:
		m.remove(s, k)
	}
	if !action.ChecksAutoShutdown() {
		panic("unreachable")
	}
	exited := strategy.ChildState{ID: k.def.id, Restart: k.def.restart, Significant: k.def.significant, Status: strategy.Down}
	return strategy.ShouldAutoShutdown(s.def.auto, exited, specs(s))
}

// restart runs the restart procedure with retries; it reports whether s
// gives up.
func (m *model) restart(s *mSup, c *mChild) bool {
	for {
		if !s.intensity.Allow(m.now) {
			c.status = strategy.Down
			return true
		}
		plan := strategy.Group(s.def.kind, specs(s), slices.Index(s.children, c))
		pick := func(idx []int) []*mChild {
			var out []*mChild
			for _, i := range idx {
				out = append(out, s.children[i])
			}
			return out
		}
		stop, remove, start := pick(plan.Stop), pick(plan.Remove), pick(plan.Start)
		for _, k := range stop {
			m.shutdown(k)
		}
		for _, k := range remove {
			m.remove(s, k)
		}
		for _, k := range start {
			k.status = strategy.Down
		}
		var failed *mChild
		for _, k := range start {
			if !m.startFn(s, k) {
				k.status = strategy.Restarting
				failed = k
				break
			}
			k.status = strategy.Running
		}
		if failed == nil {
			return false
		}
		c = failed
	}
}

func (m *model) giveUp(s *mSup) {
	m.terminateAll(s)
	if s.owner == nil {
		m.emit("supervisor down shutdown")
		m.done = true
		return
	}
	m.emit("stop %s shutdown", s.owner.def.path)
	if m.childExited(s.parent, s.owner, strategy.Shutdown) {
		m.giveUp(s.parent)
	}
}

// locate returns the supervisor that is the parent of path and the child
// named by path in it (nil if there is none).
func (m *model) locate(path string) (*mSup, *mChild, string) {
	parts := strings.Split(path, ".")
	s := m.top
	for _, p := range parts[:len(parts)-1] {
		i := slices.IndexFunc(s.children, func(c *mChild) bool { return c.def.id == p })
		if i < 0 || s.children[i].inst == nil {
			return nil, nil, ""
		}
		s = s.children[i].inst
	}
	id := parts[len(parts)-1]
	i := slices.IndexFunc(s.children, func(c *mChild) bool { return c.def.id == id })
	if i < 0 {
		return s, nil, id
	}
	return s, s.children[i], id
}

func (m *model) supAt(path string) *mSup {
	if path == "" {
		return m.top
	}
	_, c, _ := m.locate(path)
	if c == nil {
		return nil
	}
	return c.inst
}

func parseChildDef(f []string, defs map[string]*childDef) (*childDef, error) {
	if len(f) < 3 {
		return nil, fmt.Errorf("short child definition %q", f)
	}
	d := &childDef{path: f[0], id: f[0][strings.LastIndex(f[0], ".")+1:], shutdown: f[2]}
	var err error
	if d.restart, err = strategy.ParseRestart(f[1]); err != nil {
		return nil, err
	}
	for i := 3; i < len(f); i++ {
		switch f[i] {
		case "significant":
			d.significant = true
		case "stubborn":
			d.stubborn = true
		case "fail_starts":
			i++
			for _, n := range strings.Split(f[i], ",") {
				v, err := strconv.Atoi(n)
				if err != nil {
					return nil, err
				}
				d.failStarts = append(d.failStarts, v)
			}
		case "supervisor":
			if d.sup == nil {
				d.sup = &supDef{}
			}
			if d.sup.kind, err = strategy.ParseStrategy(f[i+1]); err != nil {
				return nil, err
			}
			d.sup.intensity, _ = strconv.Atoi(f[i+2])
			p, _ := strconv.Atoi(f[i+3])
			d.sup.period = time.Duration(p) * time.Second
			i += 3
		case "auto_shutdown":
			if d.sup == nil {
				d.sup = &supDef{}
			}
			i++
			if d.sup.auto, err = strategy.ParseAutoShutdown(f[i]); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("unknown option %q", f[i])
		}
	}
	if defs != nil {
		defs[d.path] = d
	}
	return d, nil
}

func runModel(src string) (string, error) {
	top := &supDef{}
	defs := map[string]*childDef{}
	var steps [][]string
	for line := range strings.Lines(src) {
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		var err error
		switch f[0] {
		case "strategy":
			top.kind, err = strategy.ParseStrategy(f[1])
		case "intensity":
			top.intensity, err = strconv.Atoi(f[1])
		case "period":
			var p int
			p, err = strconv.Atoi(f[1])
			top.period = time.Duration(p) * time.Second
		case "auto_shutdown":
			top.auto, err = strategy.ParseAutoShutdown(f[1])
		case "child":
			var d *childDef
			if d, err = parseChildDef(f[1:], defs); err != nil {
				break
			}
			parent := top
			if i := strings.LastIndex(d.path, "."); i >= 0 {
				parent = defs[d.path[:i]].sup
			}
			parent.children = append(parent.children, d)
		case "step":
			steps = append(steps, f[1:])
		default:
			err = fmt.Errorf("unknown line %q", line)
		}
		if err != nil {
			return "", err
		}
	}

	m := &model{attempts: map[string]int{}, now: time.Unix(1000, 0)}
	m.top = m.newSup(top, nil, nil)
	if ok, why := m.init(m.top); !ok {
		m.emit("supervisor start_failed %s", why)
		return m.out.String(), nil
	}
	m.emit("supervisor up")
	for _, st := range steps {
		if m.done {
			return "", fmt.Errorf("steps left after the supervisor went down")
		}
		arg := ""
		if len(st) > 1 {
			arg = st[1]
		}
		switch st[0] {
		case "crash":
			s, k, _ := m.locate(arg)
			if k == nil || k.status != strategy.Running {
				return "", fmt.Errorf("crash of %s, which is not running", arg)
			}
			m.emit("crash %s %s", arg, st[2])
			reason := map[string]strategy.ExitReason{"normal": strategy.Normal, "shutdown": strategy.Shutdown, "error": strategy.Failed, "kill": strategy.Killed}[st[2]]
			if reason == strategy.Killed {
				m.emit("killed %s", arg)
			} else {
				m.emit("stop %s %s", arg, st[2])
			}
			if m.childExited(s, k, reason) {
				m.giveUp(s)
			}
		case "terminate_child":
			s, k, _ := m.locate(arg)
			res := "{error,not_found}"
			if k != nil {
				if k.status == strategy.Running {
					m.shutdown(k)
				}
				if k.def.restart == strategy.Temporary {
					m.remove(s, k)
				} else {
					k.status = strategy.Down
				}
				res = "ok"
			}
			m.emit("call terminate_child %s -> %s", arg, res)
		case "restart_child", "delete_child":
			s, k, _ := m.locate(arg)
			var res string
			switch {
			case k == nil:
				res = "{error,not_found}"
			case k.status == strategy.Running:
				res = "{error,running}"
			case k.status == strategy.Restarting:
				res = "{error,restarting}"
			case st[0] == "delete_child":
				m.remove(s, k)
				res = "ok"
			case m.startFn(s, k):
				k.status = strategy.Running
				res = "ok"
			default:
				res = "{error,start_failed}"
			}
			m.emit("call %s %s -> %s", st[0], arg, res)
		case "start_child":
			d, err := parseChildDef(st[1:], nil)
			if err != nil {
				return "", err
			}
			s, k, _ := m.locate(d.path)
			spec := strategy.ChildState{ID: d.id, Restart: d.restart, Significant: d.significant}
			var res string
			switch {
			case strategy.ValidateSpecs(s.def.auto, []strategy.ChildState{spec}) != nil:
				res = "{error,bad_combination}"
			case k != nil && k.status == strategy.Running:
				res = "{error,already_started}"
			case k != nil:
				res = "{error,already_present}"
			default:
				c := &mChild{def: d, status: strategy.Down}
				if m.startFn(s, c) {
					c.status = strategy.Running
					s.children = append(s.children, c)
					res = "ok"
				} else {
					res = "{error,start_failed}"
				}
			}
			m.emit("call start_child %s -> %s", d.path, res)
		case "which_children":
			line := "children"
			for _, c := range m.supAt(arg).children {
				st := map[strategy.Status]string{strategy.Running: "up", strategy.Down: "down", strategy.Restarting: "restarting"}[c.status]
				line += " " + c.def.path + ":" + st
			}
			m.emit("%s", line)
		case "count_children":
			var specs, active, sups int
			for _, c := range m.supAt(arg).children {
				specs++
				if c.status == strategy.Running {
					active++
				}
				if c.def.sup != nil {
					sups++
				}
			}
			m.emit("count specs=%d active=%d supervisors=%d workers=%d", specs, active, sups, specs-sups)
		case "sleep":
			ms, _ := strconv.Atoi(arg)
			m.emit("sleep %d", ms)
			m.now = m.now.Add(time.Duration(ms) * time.Millisecond)
		case "stop":
			m.terminateAll(m.top)
			m.emit("supervisor down shutdown")
			m.done = true
		default:
			return "", fmt.Errorf("unknown step %q", st)
		}
	}
	return m.out.String(), nil
}
