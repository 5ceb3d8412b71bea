package pipeline

import ib "github.com/troupe-go/troupe/pipeline/internal/batch"

// The pipeline's names for the types of package batch (see there). The
// destination of a batch (Batch.Slot) is a *slot[T].
type (
	envelope[T any]  = ib.Envelope[T]
	batch[T any]     = ib.Batch[T]
	batchPool[T any] = ib.Pool[T]
	batchKind        = ib.Kind
)

const (
	kData  = ib.Data  // items
	kEOS   = ib.EOS   // end of stream, after every data batch of all upstreams
	kWake  = ib.Wake  // handle the slot's rescued batches (sent with Urgent)
	kTick  = ib.Tick  // a timer fired (sent with Urgent)
	kRetry = ib.Retry // parked items may be due for their retry (sent with Urgent)
)
