package chaos_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/troupe-go/troupe/chaos"
)

// testCtx returns a context that ends a little before the test's
// deadline, so a hung test fails with a stack dump instead of a panic.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	d := 60 * time.Second
	if dl, ok := t.Deadline(); ok {
		d = time.Until(dl) - 5*time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// wait waits for ch or fails the test with every goroutine's stack.
func wait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-testCtx(t).Done():
		buf := make([]byte, 1<<20)
		t.Fatalf("timed out waiting for %s\n%s", what, buf[:runtime.Stack(buf, true)])
		panic("unreachable")
	}
}

// newMonkey builds a monkey or fails the test.
func newMonkey(t testing.TB, seed uint64, rules ...chaos.Rule) *chaos.Monkey {
	t.Helper()
	m, err := chaos.New(seed, rules...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// inject calls m.InjectItem (or m.Inject when item < 0) and turns a Kill's
// panic into its *Fault.
func inject(m *chaos.Monkey, ctx context.Context, site string, item int64) (f *chaos.Fault, err error) {
	defer func() {
		if r := recover(); r != nil {
			f = r.(*chaos.Fault)
		}
	}()
	if item < 0 {
		return nil, m.Inject(ctx, site)
	}
	return nil, m.InjectItem(ctx, site, uint64(item))
}

// schedule lists the faults of m as comparable strings, without IDs and
// times (which depend on the order of concurrent hits).
type faultKey struct {
	Kind    chaos.Kind
	Rule    int
	Site    string
	Item    uint64
	HasItem bool
}

func keys(fs []chaos.Fault) map[faultKey]int {
	out := map[faultKey]int{}
	for _, f := range fs {
		out[faultKey{f.Kind, f.Rule, f.Site, f.Item, f.HasItem}]++
	}
	return out
}

func runtimeGoroutines() int { return runtime.NumGoroutine() }
