package mailbox_test

import (
	"fmt"

	"github.com/troupe-go/troupe/mailbox"
)

// This example keeps only the three newest readings: with DropOldest a push
// to a full queue evicts the oldest item, hands it back to the caller and
// counts it.
func ExampleQueue() {
	q, err := mailbox.NewQueue[int](&mailbox.Config{Capacity: 3, Policy: mailbox.DropOldest})
	if err != nil {
		panic(err)
	}
	for reading := 1; reading <= 5; reading++ {
		if old, dropped, err := q.TryPush(reading); err != nil {
			panic(err)
		} else if dropped {
			fmt.Println("dropped", old)
		}
	}
	fmt.Println("queued", q.PopBatch(nil, 0))

	s := q.Stats()
	fmt.Printf("enqueued %d = dequeued %d + dropped oldest %d + len %d\n",
		s.Enqueued, s.Dequeued, s.DroppedOldest, s.Len)
	// Output:
	// dropped 1
	// dropped 2
	// queued [3 4 5]
	// enqueued 5 = dequeued 3 + dropped oldest 2 + len 0
}
