// Tee-split: one stream of orders to an audit log and, split by amount,
// to two different handlers.
//
// Tee(in, 2) broadcasts: each of its two outputs gets every order. One
// copy goes to the audit sink. Split(in, pred) routes: the other copy is
// split into large orders (amount >= 100), which go to a review stage,
// and the rest, which go to a fast path. Tee and Split cost no actor of
// their own: the producers write to their consumers directly. Every
// output must be consumed.
//
// What to copy: Tee for "every consumer sees everything", Split for
// "each item goes one way". Tee copies the item (a shallow copy: items
// holding pointers share what they point to).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/troupe-go/troupe/pipeline"
)

const largeAmount = 100

// Order is one order; Amount is in euros.
type Order struct {
	ID     int
	Amount int
}

// orders returns 50 orders with amounts from 7 to 350, in steps of 7.
func orders() []Order {
	out := make([]Order, 50)
	for i := range out {
		out[i] = Order{ID: i + 1, Amount: 7 * (i + 1)}
	}
	return out
}

// Totals are what a branch received: how many orders, their amounts'
// sum, and the smallest and largest amount.
type Totals struct {
	N, Sum, Min, Max int
}

func (t *Totals) add(o Order) {
	if t.N == 0 || o.Amount < t.Min {
		t.Min = o.Amount
	}
	t.Max = max(t.Max, o.Amount)
	t.N++
	t.Sum += o.Amount
}

func main() {
	audit, review, fast, err := run(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "tee-split:", err)
		os.Exit(1)
	}
	report(os.Stdout, audit, review, fast)
}

func report(w io.Writer, audit, review, fast Totals) {
	for _, b := range []struct {
		name string
		t    Totals
	}{{"audit (all)", audit}, {"review (large)", review}, {"fast (small)", fast}} {
		fmt.Fprintf(w, "%-15s %2d orders, %5d EUR, amounts %d-%d\n", b.name, b.t.N, b.t.Sum, b.t.Min, b.t.Max)
	}
}

func run(ctx context.Context) (audit, review, fast Totals, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()

	p := pipeline.New()
	in := pipeline.FromSlice(p, "orders", orders())
	copies := pipeline.Tee(in, 2)
	// Each sink has one worker: its totals need no lock; read after Run.
	pipeline.ToFunc(copies[0], "audit", func(_ context.Context, o Order) error { audit.add(o); return nil })
	large, small := pipeline.Split(copies[1], func(o Order) bool { return o.Amount >= largeAmount })
	pipeline.ToFunc(large, "review", func(_ context.Context, o Order) error { review.add(o); return nil })
	pipeline.ToFunc(small, "fast", func(_ context.Context, o Order) error { fast.add(o); return nil })
	err = p.Run(ctx)
	return audit, review, fast, err
}
