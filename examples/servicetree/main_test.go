package main

import (
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestServicetree checks the whole trace: every line follows causally from
// the one before it, so the order is the same on every run.
func TestServicetree(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
}

const want = `start /app/db
start /app/cache
start /app/api/users
start /app/api/orders
-- db crashes: cache and handlers restart after it
stop  /app/db (failure)
failed    /app/db: actor /app/db failed (attempt 1): connection reset
stop  /app/api/orders (shutdown)
stop  /app/api/users (shutdown)
stop  /app/cache (shutdown)
start /app/db
restarted /app/db
start /app/cache
restarted /app/cache
start /app/api/users
start /app/api/orders
restarted /app/api
-- users handler crashes twice: api gives up, app restarts api
stop  /app/api/users (failure)
failed    /app/api/users: actor /app/api/users failed (attempt 1): connection reset
start /app/api/users
restarted /app/api/users
stop  /app/api/users (failure)
failed    /app/api/users: actor /app/api/users failed (attempt 1): connection reset
stop  /app/api/orders (shutdown)
gave-up   /app/api: supervisor /app/api: restart intensity exceeded by child "users": actor /app/api/users failed (attempt 1): connection reset
escalated /app/api: supervisor /app/api: restart intensity exceeded by child "users": actor /app/api/users failed (attempt 1): connection reset
start /app/api/users
start /app/api/orders
restarted /app/api
-- stop: last started first
stop  /app/api/orders (shutdown)
stop  /app/api/users (shutdown)
stop  /app/cache (shutdown)
stop  /app/db (shutdown)
`
