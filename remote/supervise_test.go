package remote

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/strategy"
	"github.com/troupe-go/troupe/supervisor"
)

// work is the message of the remotely supervised test worker: "panic"
// makes it panic, anything else is answered with who answered.
type (
	work struct {
		Do    string           `json:"do"`
		Reply actor.Reply[who] `json:"-"`
	}
	who struct {
		Pid  int    `json:"pid"`  // the node's process
		Inst uint64 `json:"inst"` // the incarnation
	}
)

func init() {
	must(Register[who]("test.Who"))
	must(RegisterAsk("test.Work", func(w work) actor.Reply[who] { return w.Reply }, func(w *work, r actor.Reply[who]) { w.Reply = r }))
	must(RegisterFactory("test.worker", func() actor.Actor[work] {
		inst := rand.Uint64()
		return actor.Func[work](func(c actor.Context, w work) error {
			switch w.Do {
			case "panic":
				panic("remote worker panics")
			case "normal":
				return actor.StopNormal
			}
			if !w.Reply.Valid() {
				return nil // a Tell
			}
			return w.Reply.Send(c, who{Pid: os.Getpid(), Inst: inst})
		})
	}))
}

// askWho asks the child once, within a second.
func askWho(ctx context.Context, ref actor.Ref[work]) (who, error) {
	actx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return actor.Ask(actx, ref, func(r actor.Reply[who]) work { return work{Do: "who", Reply: r} })
}

// askUntil asks until ok holds for the answer (each Ask is bounded; the
// whole by ctx).
func askUntil(ctx context.Context, t *testing.T, ref actor.Ref[work], ok func(who) bool) who {
	t.Helper()
	for ctx.Err() == nil {
		if w, err := askWho(ctx, ref); err == nil && ok(w) {
			return w
		}
	}
	t.Fatalf("no answer as wanted: %v", ctx.Err())
	return who{}
}

// failures collects the proxy's failures.
func failures() (chan *actor.Failure, ChildOption) {
	ch := make(chan *actor.Failure, 16)
	return ch, WithProxyOptions(actor.WithFailure(func(f *actor.Failure) {
		select {
		case ch <- f:
		default:
		}
	}))
}

func nextFailure(ctx context.Context, t *testing.T, ch chan *actor.Failure) *ChildExitError {
	t.Helper()
	select {
	case f := <-ch:
		var ce *ChildExitError
		if !errors.As(f.Err, &ce) {
			t.Fatalf("proxy failure %v; want a *ChildExitError", f.Err)
		}
		return ce
	case <-ctx.Done():
		t.Fatalf("no failure of the proxy: %v", ctx.Err())
	}
	return nil
}

// TestRemoteChildPanicRestarts: a supervised child running on another
// node panics; the supervisor gets the failure (with the panic's text)
// and restarts the child, on that node: a fresh actor answers through the
// same Ref, and the supervisor counts one restart.
func TestRemoteChildPanicRestarts(t *testing.T) {
	ctx := deadline(t)
	a, _, b, _ := twoNodes(ctx, t)
	fails, opt := failures()
	sup, err := supervisor.Start(a.System(), uniq(t, "sup"), []supervisor.ChildSpec{
		ChildSpec[work]("w", a, b.addr, "test.worker", opt),
	}, supervisor.WithIntensity(3, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer sup.Stop(ctx)
	ref, ok := supervisor.LookupChild[work](sup, "w")
	if !ok {
		t.Fatal("no child w")
	}
	first, err := askWho(ctx, ref)
	if err != nil || first.Pid != b.cmd.Process.Pid {
		t.Fatalf("first answer %+v, %v; want one from the child node (pid %d)", first, err, b.cmd.Process.Pid)
	}
	if err := ref.Tell(ctx, work{Do: "panic"}); err != nil {
		t.Fatal(err)
	}
	ce := nextFailure(ctx, t, fails)
	if ce.Reason != actor.Failed || ce.Node != b.addr || ce.Err == nil || !strings.Contains(ce.Err.Error(), "remote worker panics") {
		t.Errorf("child exit %v; want Failed on %s with the panic's text", ce, b.addr)
	}
	second := askUntil(ctx, t, ref, func(w who) bool { return w.Inst != first.Inst })
	if second.Pid != b.cmd.Process.Pid {
		t.Errorf("restarted child answered from pid %d; want the child node's %d", second.Pid, b.cmd.Process.Pid)
	}
	if st := sup.Stats(); st.Restarts != 1 || st.GaveUp != 0 {
		t.Errorf("supervisor stats %+v; want 1 restart", st)
	}
}

// TestRemoteChildNodeLostMoves: the node of a supervised remote child is
// SIGKILLed; the child fails with NoConnection and the supervisor
// restarts it, on the fallback node.
func TestRemoteChildNodeLostMoves(t *testing.T) {
	ctx := deadline(t)
	a, _, b, w := twoNodes(ctx, t)
	c := startChild(ctx, t, a.GossipAddr())
	w.wait(ctx, t, c.addr, true)
	fails, opt := failures()
	sup, err := supervisor.Start(a.System(), uniq(t, "sup"), []supervisor.ChildSpec{
		ChildSpec[work]("w", a, b.addr, "test.worker", WithFallback(c.addr), opt),
	}, supervisor.WithIntensity(3, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer sup.Stop(ctx)
	ref, _ := supervisor.LookupChild[work](sup, "w")
	if got, err := askWho(ctx, ref); err != nil || got.Pid != b.cmd.Process.Pid {
		t.Fatalf("first answer %+v, %v; want one from node b (pid %d)", got, err, b.cmd.Process.Pid)
	}
	t0 := time.Now()
	if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ce := nextFailure(ctx, t, fails)
	detected := time.Since(t0)
	if ce.Reason != NoConnection || !errors.Is(ce, ErrNoConnection) || ce.Node != b.addr {
		t.Errorf("child exit %v; want NoConnection on %s", ce, b.addr)
	}
	moved := askUntil(ctx, t, ref, func(w who) bool { return w.Pid == c.cmd.Process.Pid })
	_ = moved
	if st := sup.Stats(); st.Restarts < 1 || st.GaveUp != 0 {
		t.Errorf("supervisor stats %+v; want a restart, no give-up", st)
	}
	t.Logf("remote child's node SIGKILLed: failure after %v, serving again on the fallback after %v", detected.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
}

// TestRemoteChildNodeLostGivesUp: with no restart allowed, the loss of a
// remote child's node makes its supervisor give up, with the child's
// NoConnection as the cause.
func TestRemoteChildNodeLostGivesUp(t *testing.T) {
	ctx := deadline(t)
	a, _, b, _ := twoNodes(ctx, t)
	sup, err := supervisor.Start(a.System(), uniq(t, "sup"), []supervisor.ChildSpec{
		ChildSpec[work]("w", a, b.addr, "test.worker"),
	}, supervisor.WithIntensity(0, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := supervisor.LookupChild[work](sup, "w")
	if _, err := askWho(ctx, ref); err != nil {
		t.Fatal(err)
	}
	if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = sup.Wait(ctx)
	var ce *ChildExitError
	if !errors.Is(err, supervisor.ErrGaveUp) || !errors.Is(err, ErrNoConnection) || !errors.As(err, &ce) || ce.Reason != NoConnection {
		t.Fatalf("Wait: %v; want ErrGaveUp caused by the child's NoConnection", err)
	}
	if st := sup.Stats(); st.GaveUp != 1 || st.Restarts != 0 {
		t.Errorf("supervisor stats %+v; want gave up once, no restart", st)
	}
}

// TestRemoteChildStartFails: a start that no node accepts (no such
// factory there) fails the supervisor's start with ErrNoFactory.
func TestRemoteChildStartFails(t *testing.T) {
	ctx := deadline(t)
	a, _, _ := shared(t)
	_, err := supervisor.Start(a.System(), uniq(t, "sup"), []supervisor.ChildSpec{
		ChildSpec[work]("w", a, a.Addr(), "test.nobody"),
	})
	if !errors.Is(err, supervisor.ErrStartFailed) || !errors.Is(err, ErrNoFactory) {
		t.Fatalf("Start: %v; want ErrStartFailed with ErrNoFactory", err)
	}
	if err := ChildSpec[work]("w", nil, a.Addr(), "test.worker").Validate(); !errors.Is(err, supervisor.ErrInvalidSpec) {
		t.Errorf("Validate with a nil node: %v; want ErrInvalidSpec", err)
	}
	_ = ctx
}

// TestRemoteChildNormalExitTransient: a transient remote child that stops
// normally on its node is not restarted (its proxy ends Normal, not as a
// failure), and a zero-valued message still reaches a running child (the
// proxy's wakes are zero values too).
func TestRemoteChildNormalExitTransient(t *testing.T) {
	ctx := deadline(t)
	a, _, b, _ := twoNodes(ctx, t)
	fails, opt := failures()
	spec := ChildSpec[work]("w", a, b.addr, "test.worker", opt)
	spec.Restart = supervisor.Transient
	sup, err := supervisor.Start(a.System(), uniq(t, "sup"), []supervisor.ChildSpec{spec}, supervisor.WithIntensity(3, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer sup.Stop(ctx)
	ref, _ := supervisor.LookupChild[work](sup, "w")
	if _, err := askWho(ctx, ref); err != nil {
		t.Fatal(err)
	}
	if err := ref.Tell(ctx, work{}); err != nil { // zero value: a plain message here
		t.Fatal(err)
	}
	if _, err := askWho(ctx, ref); err != nil {
		t.Fatalf("after a zero-valued message: %v", err)
	}
	if err := ref.Tell(ctx, work{Do: "normal"}); err != nil {
		t.Fatal(err)
	}
	for ctx.Err() == nil {
		infos, err := sup.WhichChildren(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(infos) == 1 && infos[0].Status == strategy.Down {
			break
		}
	}
	select {
	case f := <-fails:
		t.Errorf("a normal exit failed the proxy: %v", f.Err)
	default:
	}
	if st := sup.Stats(); st.Restarts != 0 {
		t.Errorf("supervisor stats %+v; want no restart of a transient child that exited normally", st)
	}
}
