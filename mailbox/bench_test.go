package mailbox_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/troupe-go/troupe/mailbox"
)

// benchCap is the capacity of both the queue and the baseline channel.
const benchCap = 1024

// BenchmarkQueuePushPop moves b.N ints from one producer goroutine through
// a bounded Block queue to the benchmark goroutine, which pops batches of
// at most the named size (0 = everything queued). Compare with
// BenchmarkChanBaseline.
func BenchmarkQueuePushPop(b *testing.B) {
	for _, batch := range []int{1, 64, 0} {
		b.Run(fmt.Sprintf("cap=%d/batch=%d", benchCap, batch), func(b *testing.B) {
			q, err := mailbox.NewQueue[int](&mailbox.Config{Capacity: benchCap, Policy: mailbox.Block})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			produced := make(chan struct{})
			go func() { // the producer; ends after b.N pushes, waited for below
				defer close(produced)
				ctx := context.Background()
				for i := range b.N {
					if _, _, err := q.Push(ctx, i); err != nil {
						b.Error(err)
						return
					}
				}
			}()
			dst := make([]int, 0, benchCap)
			for got := 0; got < b.N; {
				dst = q.PopBatch(dst[:0], batch)
				if len(dst) == 0 {
					runtime.Gosched() // nothing queued: let the producer run
					continue
				}
				got += len(dst)
			}
			<-produced
		})
	}
}

// BenchmarkChanBaseline is BenchmarkQueuePushPop's job done with a
// buffered channel of the same capacity.
func BenchmarkChanBaseline(b *testing.B) {
	b.Run(fmt.Sprintf("cap=%d", benchCap), func(b *testing.B) {
		ch := make(chan int, benchCap)
		b.ReportAllocs()
		go func() { // the producer; ends after b.N sends, when it closes ch
			for i := range b.N {
				ch <- i
			}
			close(ch)
		}()
		for range ch {
		}
	})
}
