package cases

// The plain baseline: goroutines and channels with no framework, written the
// way a Go programmer would without an actor library. It is the floor the
// other two columns are measured against.
//
// Setup, case by case:
//
//   - tell-1to1: one receiver goroutine reads a `chan int` of capacity 1024
//     (the same bound as troupe's mailbox in this case) and closes done after
//     b.N values; the benchmark goroutine sends them and waits on done.
//   - tell-2to1, tell-4to1: as tell-1to1 with two (four) sender goroutines released together
//     by closing a start channel, each sending half of b.N.
//   - ask: a server goroutine reads requests {n, reply chan int} from a
//     `chan` of capacity 1024 and answers n+1 on reply. Each request makes a
//     new `chan int` of capacity 1 for its reply, which is what request/
//     response over channels costs when requests are independent (a reused
//     reply channel would only be correct for one caller with one request in
//     flight).
//   - pingpong: goroutines A (the benchmark goroutine) and B and two
//     unbuffered `chan int`, A->B and B->A. A sends, B echoes, A counts a
//     round trip; after b.N round trips A closes A->B and waits for B to exit.
//     Unbuffered and capacity-1 channels measured within noise of each other
//     (about 500 ns per round trip on the 2-core dev machine); unbuffered is
//     kept as the simpler of the two.
//   - spawn-stop: `go` a goroutine that ranges over its own unbuffered
//     `chan int` and closes done on exit; stop = close the channel and wait
//     on done.
//   - idle-*: n goroutines each blocked receiving on its own unbuffered
//     `chan int`; each signals a WaitGroup before it blocks, and the spawner
//     returns once all have. Stop closes every channel and waits for all to
//     exit.

import (
	"sync"
	"testing"
)

func plainTell1(b *testing.B) {
	ch := make(chan int, 1024)
	done := make(chan struct{})
	n := b.N
	go func() { // exits after n messages; the benchmark waits on done
		sum := 0
		for i := 0; i < n; i++ {
			sum += <-ch
		}
		_ = sum
		close(done)
	}()
	b.ResetTimer()
	for i := 0; i < n; i++ {
		ch <- i
	}
	<-done
}

func plainTell2(b *testing.B) { plainTellN(b, 2) }
func plainTell4(b *testing.B) { plainTellN(b, 4) }

// plainTellN is tell-1to1 with senders sender goroutines released together.
func plainTellN(b *testing.B, senders int) {
	ch := make(chan int, 1024)
	start, done := make(chan struct{}), make(chan struct{})
	n := b.N
	go func() { // exits after n messages; the benchmark waits on done
		for i := 0; i < n; i++ {
			<-ch
		}
		close(done)
	}()
	var sent sync.WaitGroup
	for s := 0; s < senders; s++ {
		k := split(n, senders, s)
		sent.Add(1)
		go func() { // exits after sending k; waited for by sent
			defer sent.Done()
			<-start
			for i := 0; i < k; i++ {
				ch <- i
			}
		}()
	}
	b.ResetTimer()
	close(start)
	<-done
	b.StopTimer()
	sent.Wait()
}

type plainReq struct {
	n     int
	reply chan int
}

func plainAsk(b *testing.B) {
	reqs := make(chan plainReq, 1024)
	done := make(chan struct{})
	go func() { // stopped by close(reqs) below; the benchmark waits on done
		for r := range reqs {
			r.reply <- r.n + 1
		}
		close(done)
	}()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		reply := make(chan int, 1)
		reqs <- plainReq{i, reply}
		if v := <-reply; v != i+1 {
			b.Fatalf("ask: got %d; want %d", v, i+1)
		}
	}
	b.StopTimer()
	close(reqs)
	<-done
}

func plainPingPong(b *testing.B) {
	ab, ba := make(chan int), make(chan int)
	done := make(chan struct{})
	go func() { // B: echoes until A closes ba, then closes done
		for v := range ba {
			ab <- v
		}
		close(done)
	}()
	b.ResetTimer()
	// A is the benchmark goroutine.
	for i := 0; i < b.N; i++ {
		ba <- i
		if v := <-ab; v != i {
			b.Fatalf("pingpong: got %d; want %d", v, i)
		}
	}
	b.StopTimer()
	close(ba)
	<-done
}

func plainSpawnStop(b *testing.B) {
	for i := 0; i < b.N; i++ {
		ch := make(chan int)
		done := make(chan struct{})
		go func() { // stopped by close(ch); waited for on done
			for range ch {
			}
			close(done)
		}()
		close(ch)
		<-done
	}
}

func plainIdle(b *testing.B, n int) (stop func()) {
	chans := make([]chan int, n)
	var started, exited sync.WaitGroup
	started.Add(n)
	exited.Add(n)
	for i := range chans {
		ch := make(chan int)
		chans[i] = ch
		go func() { // stopped by close(ch) in stop; waited for by exited
			defer exited.Done()
			started.Done()
			for range ch {
			}
		}()
	}
	started.Wait()
	return func() {
		for _, ch := range chans {
			close(ch)
		}
		exited.Wait()
	}
}
