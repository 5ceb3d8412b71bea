// Package sample exercises apiedge.Scan.
//
// # Nil contexts and options
//
// A nil [context.Context] is treated as [context.Background]: no call
// panics or fails because of it, and a call that waits for its context
// waits as long as it takes. A nil option in an option list is skipped,
// and so is an option given a nil value (a nil logger, clock, function,
// store or injector), as if it were left out.
package sample

import "context"

// Ctx embeds context.Context, like actor.Context.
type Ctx interface {
	context.Context
	Path() string
}

type Option interface{ apply() }

type Store interface{ Add(int) }

type T struct{}

type G[X any] struct{}

type hidden struct{}

type Hook interface {
	Before(ctx Ctx) error // user-implemented, still listed
	Plain() int
}

func Plain(n int) int                              { return n }
func Wait(ctx context.Context) error               { return nil }
func Spawn(name string, opts ...Option)            {}
func Both(ctx Ctx, opts ...Option)                 {}
func Ints(xs ...int)                               {}
func WithStore(s Store) Option                     { return nil }
func WithFunc(f func()) Option                     { return nil }
func WithSize(n int) Option                        { return nil }
func WithMany(xs ...*int) Option                   { return nil }
func unexported(ctx context.Context)               {}
func (T) Stop(ctx context.Context) error           { return nil }
func (*T) Run(n int)                               {}
func (g G[X]) Send(ctx context.Context, x X) error { return nil }
func (hidden) Stop(ctx context.Context) error      { return nil }
