package actor_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/mailbox"
)

// gate is an actor that blocks inside Receive on message 0 until release
// is closed, so its bounded mailbox fills deterministically behind it. It
// records every message it handles.
type gate struct {
	entered chan<- struct{}
	release <-chan struct{}
	handled *log[int]
}

func (g *gate) Receive(_ actor.Context, m int) error {
	if m == 0 {
		g.entered <- struct{}{}
		<-g.release
	}
	g.handled.add(m)
	return nil
}

// spawnGate spawns a gate with a mailbox of capacity 2 and the policy,
// blocks it in Receive and fills its mailbox with 1 and 2. It returns the
// ref, the channel that releases it and its record.
func spawnGate(t *testing.T, h *harness, policy mailbox.Policy) (actor.Ref[int], chan struct{}, *log[int]) {
	t.Helper()
	entered, release := make(chan struct{}, 1), make(chan struct{})
	handled := newLog[int](true)
	ref := mustSpawn(t, h.sys, "gate", func() actor.Actor[int] {
		return &gate{entered: entered, release: release, handled: handled}
	}, actor.WithMailbox(2, policy))
	mustTell(t, ref, 0)
	brecv(t, entered, "gate to block in Receive")
	mustTell(t, ref, 1)
	mustTell(t, ref, 2)
	if st := ref.Stats(); st.MailboxLen != 2 || st.MailboxCap != 2 {
		t.Fatalf("mailbox len/cap: got %d/%d; want 2/2", st.MailboxLen, st.MailboxCap)
	}
	return ref, release, handled
}

// TestFullMailboxPolicies tells and try-tells a full bounded mailbox under
// the non-blocking policies: Reject refuses (counted), the drop policies
// accept and drop (counted, dead-lettered with DeadDropped).
func TestFullMailboxPolicies(t *testing.T) {
	cases := []struct {
		policy    mailbox.Policy
		tell, try error // results of Tell(3) and TryTell(4) on the full mailbox
		dropped   []int // dead-lettered as DeadDropped, in order
		handled   []int // handled once the gate opens
		rejected  uint64
		accepted  uint64
	}{
		{policy: mailbox.Reject, tell: actor.ErrFull, try: actor.ErrFull, handled: []int{0, 1, 2}, rejected: 2, accepted: 3},
		{policy: mailbox.DropNewest, dropped: []int{3, 4}, handled: []int{0, 1, 2}, accepted: 5},
		{policy: mailbox.DropOldest, dropped: []int{1, 2}, handled: []int{0, 3, 4}, accepted: 5},
	}
	for _, tc := range cases {
		t.Run(tc.policy.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newBubbleHarness(t)
				ref, release, handled := spawnGate(t, h, tc.policy)
				if err := ref.Tell(context.Background(), 3); !errors.Is(err, tc.tell) {
					t.Errorf("Tell(3) on a full mailbox: got %v; want %v", err, tc.tell)
				}
				if err := ref.TryTell(4); !errors.Is(err, tc.try) {
					t.Errorf("TryTell(4) on a full mailbox: got %v; want %v", err, tc.try)
				}
				st := ref.Stats()
				if st.Dropped != uint64(len(tc.dropped)) || st.Rejected != tc.rejected || st.Accepted != tc.accepted {
					t.Errorf("Dropped/Rejected/Accepted: got %d/%d/%d; want %d/%d/%d", st.Dropped, st.Rejected, st.Accepted, len(tc.dropped), tc.rejected, tc.accepted)
				}
				checkConservation(t, "gate blocked", st, 3) // 0 in Receive, 2 queued
				if got := deadMessagesOf[int](h, actor.DeadDropped, ref.Path()); !slices.Equal(got, tc.dropped) {
					t.Errorf("dropped dead letters: got %v; want %v", got, tc.dropped)
				}
				close(release)
				got := handled.waitN(t, len(tc.handled), "messages handled", func(int) bool { return true })
				if !slices.Equal(got, tc.handled) {
					t.Errorf("handled: got %v; want %v", got, tc.handled)
				}
				if err := ref.Stop(context.Background()); err != nil {
					t.Fatalf("Stop: got %v; want nil", err)
				}
				st = ref.Stats()
				checkConservation(t, "stopped", st, 0)
				if st.Processed != uint64(len(tc.handled)) || st.DeadLettered != 0 {
					t.Errorf("Processed/DeadLettered: got %d/%d; want %d/0", st.Processed, st.DeadLettered, len(tc.handled))
				}
			})
		})
	}
}

// TestFullMailboxBlock checks backpressure: on a full Block mailbox TryTell
// refuses, Tell waits until its ctx ends (returning the ctx's error) or
// until the actor frees a slot (returning nil).
func TestFullMailboxBlock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newBubbleHarness(t)
		ref, release, handled := spawnGate(t, h, mailbox.Block)
		if err := ref.TryTell(3); !errors.Is(err, actor.ErrFull) || !errors.Is(err, mailbox.ErrFull) {
			t.Errorf("TryTell on a full mailbox: got %v; want %v (mailbox.ErrFull)", err, actor.ErrFull)
		}
		res := make(chan error, 1)

		ctx, cancel := context.WithCancel(context.Background())
		go func() { res <- ref.Tell(ctx, 3) }() // returns when ctx is cancelled
		synctest.Wait()
		none(t, res, "Tell on a full mailbox before cancel")
		cancel()
		if err := brecv(t, res, "Tell to return after cancel"); !errors.Is(err, context.Canceled) {
			t.Errorf("Tell cancelled: got %v; want %v", err, context.Canceled)
		}

		start := time.Now()
		ctx, cancel = context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		go func() { res <- ref.Tell(ctx, 3) }() // returns at the deadline
		if err := brecv(t, res, "Tell to return at its deadline"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Tell past its deadline: got %v; want %v", err, context.DeadlineExceeded)
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("Tell waited: got %v; want %v", d, time.Second)
		}

		go func() { res <- ref.Tell(context.Background(), 3) }() // returns when the gate drains
		synctest.Wait()
		none(t, res, "Tell on a full mailbox before the actor drains")
		close(release)
		if err := brecv(t, res, "Tell to return once the actor drains"); err != nil {
			t.Errorf("Tell once the actor drains: got %v; want nil", err)
		}
		got := handled.waitN(t, 4, "messages handled", func(int) bool { return true })
		if want := []int{0, 1, 2, 3}; !slices.Equal(got, want) {
			t.Errorf("handled: got %v; want %v", got, want)
		}
		if err := ref.Stop(context.Background()); err != nil {
			t.Fatalf("Stop: got %v; want nil", err)
		}
		st := ref.Stats()
		if st.Accepted != 4 || st.Rejected != 1 || st.Dropped != 0 {
			t.Errorf("Accepted/Rejected/Dropped: got %d/%d/%d; want 4/1/0", st.Accepted, st.Rejected, st.Dropped)
		}
		checkConservation(t, "stopped", st, 0)
		if n := len(h.dead.all()); n != 0 {
			t.Errorf("dead letters: got %d; want 0", n)
		}
	})
}
