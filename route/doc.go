// Package route holds the decisions that spread work over a set of
// workers: which worker gets the next message or batch (a [Router] and
// its [Picker]) and how many workers should be active (a [Scale] and its
// [Scaler]). Pipeline stages (package pipeline) and actor pools (package
// pool) use the same ones, so a router or a scale configured for one
// means the same for the other: pipeline.Router and pipeline.Scale are
// aliases of the types here.
//
// Like package strategy, route makes pure decisions: it starts no
// goroutine, reads no clock (a [Scaler] is given the time of each
// sample) and knows nothing of actors. A [Picker] is safe for concurrent
// use; a [Scaler] belongs to one goroutine.
//
// Errors are [ErrInvalid], wrapped with what was wrong: compare with
// [errors.Is].
package route
