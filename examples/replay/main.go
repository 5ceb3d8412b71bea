// Replay: poison items wait in the dead-letter store until a fix is
// applied, then Replay runs them again.
//
// A payments feed sends amounts as text. The parser knows "12.50" but
// not the decimal comma a new partner sends ("3,75"): those items fail
// both their attempts (Retry(2, ...)) and go to the dead-letter store as
// poison, with their stage, error and attempt count; the others go on.
// The pipeline keeps running (its source is a channel that stays open).
// Once the fix is applied (the parser accepts the comma), Replay takes
// the poison entries of the "parse" stage out of the store and sends
// their items back into that stage as new input, with fresh attempts.
// They now pass, and every payment ends up booked, each exactly once.
//
// The dead-letter store here wraps the default MemoryStore to signal
// each new entry, so the program knows when all the poison items are in.
//
// What to copy: WithDeadLetterStore, DeadLetterStore.List with a filter,
// and Pipeline.Replay while the stage can still take input (before its
// end of stream).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/troupe-go/troupe/pipeline"
	"github.com/troupe-go/troupe/strategy"
)

// payments is the feed; the ones with a decimal comma are poison until
// the fix.
var payments = []string{"12.50", "7", "3,75", "19.99", "0,40", "100", "8.05", "1,01", "42.00", "5.5"}

// acceptComma is the fix.
var acceptComma atomic.Bool

var errFormat = errors.New("bad amount")

// parseCents parses an amount in euros into cents.
func parseCents(s string) (int, error) {
	if acceptComma.Load() {
		s = strings.Replace(s, ",", ".", 1)
	}
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > 2 {
		return 0, fmt.Errorf("%w %q", errFormat, s)
	}
	e, err := strconv.Atoi(whole)
	if err != nil {
		return 0, fmt.Errorf("%w %q", errFormat, s)
	}
	c := 0
	if frac != "" {
		if c, err = strconv.Atoi(frac + strings.Repeat("0", 2-len(frac))); err != nil {
			return 0, fmt.Errorf("%w %q", errFormat, s)
		}
	}
	return 100*e + c, nil
}

// notifyStore is a MemoryStore that signals each entry added.
type notifyStore struct {
	*pipeline.MemoryStore
	added chan struct{}
}

func (s notifyStore) Add(d pipeline.DeadLetter) {
	s.MemoryStore.Add(d)
	s.added <- struct{}{} // room for every payment: never blocks
}

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "replay:", err)
		os.Exit(1)
	}
}

func run(w io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	acceptComma.Store(false) // the bug

	store := notifyStore{pipeline.NewMemoryStore(100), make(chan struct{}, len(payments))}
	p := pipeline.New(pipeline.WithDeadLetterStore(store))
	feed := make(chan string)
	cents := pipeline.Map(pipeline.FromChan(p, "feed", feed), "parse",
		func(_ context.Context, s string) (int, error) { return parseCents(s) },
		pipeline.WithRetry(2, strategy.Backoff{}))
	booked := make(chan int, len(payments))
	pipeline.ToFunc(cents, "book", func(_ context.Context, c int) error {
		booked <- c // room for every payment: never blocks
		return nil
	})
	if err := p.Start(ctx); err != nil {
		return err
	}
	for _, s := range payments {
		select {
		case feed <- s:
		case <-ctx.Done():
			return ctx.Err()
		}
	}

	// Wait until every payment is booked or dead-lettered.
	total, n := 0, 0
	for range payments {
		select {
		case c := <-booked:
			total += c
			n++
		case <-store.added:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	poison := func(d pipeline.DeadLetter) bool { return d.Stage == "parse" && d.Reason == pipeline.DeadPoison }
	dead := p.DeadLetters().List(poison)
	fmt.Fprintf(w, "booked %d of %d; %d dead letters:\n", n, len(payments), len(dead))
	for _, d := range dead {
		fmt.Fprintf(w, "  %s %q: %s after %d attempts: %v\n", d.Stage, d.Item, d.Reason, d.Attempts, d.Err)
	}

	acceptComma.Store(true) // the fix
	replayed, err := p.Replay(ctx, poison)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "fix applied; replayed %d\n", replayed)
	for range replayed {
		select {
		case c := <-booked:
			total += c
			n++
		case <-store.added:
			return errors.New("a replayed payment failed again")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	close(feed) // the end of the feed: the pipeline ends
	if err := p.Wait(ctx); err != nil {
		return err
	}
	fmt.Fprintf(w, "booked %d of %d, %d.%02d EUR; dead letters left: %d\n", n, len(payments), total/100, total%100, len(p.DeadLetters().List(nil)))
	s, _ := p.StageStats("parse")
	fmt.Fprintf(w, "parse: in=%d out=%d dead-lettered=%d errors=%d retries=%d\n", s.In, s.Out, s.DeadLettered, s.Errors, s.Retries)
	return nil
}
