package actor

import (
	"context"
	"fmt"
)

// StopAll stops the actors behind pids for good, each as PID.Stop does
// (the message being handled finishes, children stop, the Stop hook runs,
// what is queued goes to dead letters), but it starts every stop before
// it waits for any: the actors stop concurrently, in no particular order,
// so stopping many costs about one round trip instead of one per actor.
// It returns when all have stopped, or with an error naming the first
// actor still stopping and matching ctx.Err() when ctx ends (the stops go
// on). nil PIDs are skipped; a nil ctx waits as long as it takes. To stop
// actors in a given order (a supervisor's children), stop them one by one.
func StopAll(ctx context.Context, pids ...PID) error {
	ctx = orBackground(ctx)
	// A done ctx makes Stop start the stop and return at once.
	started, cancel := context.WithCancel(context.Background())
	cancel()
	for _, pid := range pids {
		if pid != nil {
			_ = pid.Stop(started)
		}
	}
	for _, pid := range pids {
		if pid == nil {
			continue
		}
		select {
		case <-pid.Done():
		case <-ctx.Done():
			return fmt.Errorf("actor %s: still stopping: %w", pid.Path(), ctx.Err())
		}
	}
	return nil
}
