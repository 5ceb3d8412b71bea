//go:build !race

package actor_test

// raceEnabled reports whether the race detector is on; heavy tests shrink
// under it.
const raceEnabled = false
