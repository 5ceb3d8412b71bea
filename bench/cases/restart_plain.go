package cases

// The plain side of the supervision cases (see restart.go for what each
// case measures): goroutines, channels and recover, the way a Go programmer
// would restart a crashed goroutine by hand. There is no restart budget, no
// event, no stack capture and no fresh state to build, so this is the floor.
//
//   - restart-latency-* and restarts-per-sec: a worker goroutine ranges over
//     a `chan string` (unbuffered for the latency loop, which waits for every
//     answer anyway; capacity 1024 for restarts-per-sec, the same bound as
//     troupe's mailbox there). It panics on "panic"; its deferred func
//     recovers and starts a fresh worker goroutine on the same channel, so
//     the messages still queued there reach the new one. The benchmark stops
//     it by closing the channel and waits until the last incarnation exits.
//   - rest-for-one-10: a manager goroutine owns 10 worker goroutines, each
//     with its own input channel (kept across restarts, like a mailbox) and
//     a quit/exited channel pair per incarnation. A worker signals a
//     WaitGroup when its goroutine starts. A worker that panics recovers,
//     reports its index to the manager and exits; the manager stops the
//     workers started after it, last first (close quit, wait for exited),
//     then starts it and them again in order. Crashing the first worker
//     thus restarts all 10. The manager stops everything when its stop
//     channel is closed.

import (
	"sync"
	"testing"
)

// plainRestarting runs handle for every message of in on a goroutine that
// is restarted on a fresh goroutine after each panic. done is closed when
// in is closed and the last incarnation has exited.
func plainRestarting(in <-chan string, handle func(string), done chan<- struct{}) {
	defer func() {
		if r := recover(); r != nil {
			go plainRestarting(in, handle, done) // the next incarnation; same lifetime rules
			return
		}
		close(done)
	}()
	for m := range in {
		handle(m)
	}
}

func plainRestartLatency(b *testing.B) {
	p := newRestartProbe()
	in, done := make(chan string), make(chan struct{})
	go plainRestarting(in, p.handle, done) // stopped by close(in); waited for on done
	measureRestartLatency(b, p, func(m string) { in <- m })
	close(in)
	<-done
}

func plainRestartRate(b *testing.B) {
	c := newRestartCounter(b.N)
	in, done := make(chan string, 1024), make(chan struct{})
	go plainRestarting(in, c.handle, done) // stopped by close(in); waited for on done
	measureRestartRate(b, c, func(m string) { in <- m })
	close(in)
	<-done
}

// plainGroup is the rest-for-one-10 group: a manager goroutine and its
// workers.
type plainGroup struct {
	in      [restartGroupSize]chan string // each worker's input, kept across restarts
	started *sync.WaitGroup               // Done once per worker incarnation
	failed  chan int                      // a crashed worker's index, to the manager
	stop    chan struct{}                 // closed to stop the manager and the workers
	done    chan struct{}                 // closed when all of them exited

	// Written and read only by the manager goroutine: the quit and exited
	// channels of each worker's current incarnation.
	quit   [restartGroupSize]chan struct{}
	exited [restartGroupSize]chan struct{}
}

func newPlainGroup(started *sync.WaitGroup) *plainGroup {
	g := &plainGroup{
		started: started,
		failed:  make(chan int),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	for i := range g.in {
		g.in[i] = make(chan string, 1024)
	}
	go g.manage() // stopped by close(g.stop); waited for on g.done
	return g
}

// manage starts the workers in order, restarts them rest-for-one when one
// crashes, and stops them all, last started first, on stop.
func (g *plainGroup) manage() {
	for i := range g.in {
		g.startWorker(i)
	}
	for {
		select {
		case i := <-g.failed:
			<-g.exited[i]
			for j := len(g.in) - 1; j > i; j-- {
				g.stopWorker(j)
			}
			for j := i; j < len(g.in); j++ {
				g.startWorker(j)
			}
		case <-g.stop:
			for j := len(g.in) - 1; j >= 0; j-- {
				g.stopWorker(j)
			}
			close(g.done)
			return
		}
	}
}

// startWorker starts a new incarnation of worker i. Called by the manager.
func (g *plainGroup) startWorker(i int) {
	quit, exited := make(chan struct{}), make(chan struct{})
	g.quit[i], g.exited[i] = quit, exited
	go g.work(i, quit, exited) // stopped by close(quit) or a crash; the manager waits on exited
}

// stopWorker stops worker i's incarnation and waits until it exited.
// Called by the manager.
func (g *plainGroup) stopWorker(i int) {
	close(g.quit[i])
	<-g.exited[i]
}

// work is one incarnation of worker i. After a panic it tells the manager,
// unless the manager is already stopping it.
func (g *plainGroup) work(i int, quit <-chan struct{}, exited chan<- struct{}) {
	defer close(exited)
	defer func() {
		if r := recover(); r != nil {
			select {
			case g.failed <- i:
			case <-quit:
			}
		}
	}()
	g.started.Done()
	for {
		select {
		case m := <-g.in[i]:
			if m == msgPanic {
				panic(errBenchCrash)
			}
		case <-quit:
			return
		}
	}
}

func plainRestForOne(b *testing.B) {
	var started sync.WaitGroup
	started.Add(restartGroupSize)
	g := newPlainGroup(&started)
	started.Wait()
	b.ResetTimer()
	for range b.N {
		started.Add(restartGroupSize)
		g.in[0] <- msgPanic
		started.Wait()
	}
	b.StopTimer()
	close(g.stop)
	<-g.done
}
