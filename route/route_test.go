package route_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/troupe-go/troupe/route"
)

func zero(int) int { return 0 }

// Concurrent senders share one Picker: round-robin still gives every
// worker exactly its share.
func TestRoundRobinConcurrent(t *testing.T) {
	pk := route.NewPicker(route.RoundRobin(), 1)
	counts := make([]int, 4)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() { // Owner: this test; waited for by wg.
			defer wg.Done()
			for range 1000 {
				i := pk.Pick(4, 1, zero)
				mu.Lock()
				counts[i]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if fmt.Sprint(counts) != "[1000 1000 1000 1000]" {
		t.Errorf("counts %v; want 1000 each", counts)
	}
}

func TestWeightedShares(t *testing.T) {
	pk := route.NewPicker(route.Weighted(3, 1), 1)
	counts := make([]int, 2)
	for range 400 {
		counts[pk.Pick(2, 1, zero)]++
	}
	if counts[0] != 300 || counts[1] != 100 {
		t.Errorf("counts %v; want [300 100]", counts)
	}
}

func TestLeastLoadedPicksEmptiest(t *testing.T) {
	pk := route.NewPicker(route.LeastLoaded(), 1)
	load := []int{3, 1, 0, 2}
	for range 8 {
		if i := pk.Pick(4, 1, func(i int) int { return load[i] }); i != 2 {
			t.Fatalf("picked %d; want 2, the empty one", i)
		}
	}
}

func TestValidateAndHasher(t *testing.T) {
	for _, c := range []struct {
		r route.Router
		n int
	}{{route.Router{}, 1}, {route.Weighted(1, 2), 3}, {route.Weighted(0, 1), 2}, {route.ByKey[int, int](nil), 1}, {route.RoundRobin(), 0}} {
		if err := c.r.Validate(c.n); !errors.Is(err, route.ErrInvalid) {
			t.Errorf("%v.Validate(%d): got %v; want ErrInvalid", c.r, c.n, err)
		}
	}
	r := route.ByKey(func(s string) int { return len(s) })
	if _, err := route.Hasher[int](r); !errors.Is(err, route.ErrInvalid) {
		t.Errorf("Hasher of another type: got %v; want ErrInvalid", err)
	}
	h, err := route.Hasher[string](r)
	if err != nil || h("ab") != h("cd") {
		t.Errorf("equal keys must hash equal (err %v)", err)
	}
	// ByHash routes by the hash it is given, unchanged.
	hb, err := route.Hasher[int](route.ByHash(func(v int) uint64 { return uint64(v) * 3 }))
	if err != nil || hb(5) != 15 {
		t.Errorf("ByHash: the hash of 5 is not 15 (err %v)", err)
	}
	if err := route.ByHash[int](nil).Validate(1); !errors.Is(err, route.ErrInvalid) {
		t.Errorf("ByHash(nil).Validate: got %v; want ErrInvalid", err)
	}
}

// Under a queue that fills, the Scaler adds a worker after UpAfter
// samples; when idle it removes one after DownAfter.
func TestScalerSteps(t *testing.T) {
	t0 := time.Unix(0, 0)
	sc, err := route.NewScaler(route.Scale{Min: 1, Max: 3, Every: time.Second}, 10, t0)
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	n, busy := 1, time.Duration(0)
	for k := 1; k <= 4; k++ { // full queue, busy workers
		busy += time.Duration(n) * time.Second
		n = sc.Sample(t0.Add(time.Duration(k)*time.Second), n, 10*n, busy)
		got = append(got, n)
	}
	for k := 5; k <= 14; k++ { // empty, idle
		n = sc.Sample(t0.Add(time.Duration(k)*time.Second), n, 0, busy)
		got = append(got, n)
	}
	if want := "[1 2 2 3 3 3 3 3 2 2 2 2 2 1]"; fmt.Sprint(got) != want {
		t.Errorf("sizes %v; want %s", got, want)
	}
}
