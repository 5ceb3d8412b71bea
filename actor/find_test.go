package actor_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/troupe-go/troupe/actor"
)

// TestFind checks that Find and FindChild tell "no such child" from "wrong
// message type", and that Lookup and LookupChild agree with them.
func TestFind(t *testing.T) {
	h := newHarness(t)
	parent := mustSpawn(t, h.sys, "parent", runner)
	var kid actor.Ref[int]
	inActor(t, parent, func(ctx actor.Context) {
		kid = mustSpawn(t, ctx, "kid", echo)
	})

	if got, err := actor.Find[int](parent.PID().(actor.Spawner), "kid"); err != nil || got != kid {
		t.Errorf("Find[int](kid): got %v, %v; want %v, nil", got, err, kid)
	}
	if got, err := actor.FindChild[int](parent.PID(), "kid"); err != nil || got != kid {
		t.Errorf("FindChild[int](kid): got %v, %v; want %v, nil", got, err, kid)
	}
	if got, ok := actor.LookupChild[int](parent.PID(), "kid"); !ok || got != kid {
		t.Errorf("LookupChild[int](kid): got %v, %v; want %v, true", got, ok, kid)
	}
	if got, err := actor.Find[run](h.sys, "parent"); err != nil || got != parent {
		t.Errorf("Find[run](system, parent): got %v, %v; want %v, nil", got, err, parent)
	}

	_, err := actor.FindChild[string](parent.PID(), "kid")
	var te *actor.TypeError
	if !errors.Is(err, actor.ErrWrongType) || errors.Is(err, actor.ErrNotFound) || !errors.As(err, &te) {
		t.Fatalf("FindChild[string](kid): got %v; want a *TypeError matching ErrWrongType only", err)
	}
	if te.Path != "/parent/kid" || te.Want != "string" || te.Have != "int" {
		t.Errorf("TypeError: got %+v; want Path /parent/kid, Want string, Have int", te)
	}
	if !strings.Contains(err.Error(), "int") || !strings.Contains(err.Error(), "string") {
		t.Errorf("TypeError message %q: want both type names", err)
	}

	_, err = actor.FindChild[int](parent.PID(), "nobody")
	if !errors.Is(err, actor.ErrNotFound) || errors.Is(err, actor.ErrWrongType) {
		t.Errorf("FindChild(nobody): got %v; want ErrNotFound only", err)
	}
	if _, err := actor.Find[int](h.sys, "nobody"); !errors.Is(err, actor.ErrNotFound) || !strings.Contains(err.Error(), `"nobody"`) {
		t.Errorf("Find(system, nobody): got %v; want ErrNotFound naming the child", err)
	}
	if _, err := actor.Find[int](nil, "kid"); !errors.Is(err, actor.ErrNilRef) {
		t.Errorf("Find(nil parent): got %v; want ErrNilRef", err)
	}
	if _, err := actor.FindChild[int](nil, "kid"); !errors.Is(err, actor.ErrNilRef) {
		t.Errorf("FindChild(nil parent): got %v; want ErrNilRef", err)
	}
	if _, ok := actor.LookupChild[string](parent.PID(), "kid"); ok {
		t.Errorf("LookupChild[string](kid): got true; want false")
	}
}
