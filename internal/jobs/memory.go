package jobs

import (
	"context"

	"golang.org/x/sync/semaphore"

	"uploader/internal/imageproc"
)

// MemoryBudget admits image jobs by their estimated peak memory
// (imageproc.Estimate) so that the jobs running at once never need more
// than WORKER_MEMORY_MB together: a 48 MP progressive JPEG waits for the
// small jobs ahead of it to finish instead of running beside them, and a
// file that would need more than the whole budget is refused at once.
type MemoryBudget struct {
	total int64
	sem   *semaphore.Weighted
}

// headroom is the part of WORKER_MEMORY_MB not handed to jobs: the
// collector's slack and heap fragmentation when two jobs' buffers
// interleave, the S3 client's buffers. Without it, two admitted jobs whose
// estimates summed to 500 of 512 MB peaked at 538 MB above the resting
// process (TestWorkerMemoryBudget).
const headroom = 0.85

// NewMemoryBudget makes a budget of mb megabytes, of which jobs get 85%.
func NewMemoryBudget(mb int) *MemoryBudget {
	total := int64(float64(int64(mb)<<20) * headroom)
	return &MemoryBudget{total: total, sem: semaphore.NewWeighted(total)}
}

// Total is the budget in bytes.
func (b *MemoryBudget) Total() int64 { return b.total }

// Admit waits until e fits beside the jobs already admitted and returns
// the function that gives its share back. A job larger than the whole
// budget gets a final error a person can read (no retry can fix it); a
// cancelled ctx returns ctx.Err(), and the task is retried later.
func (b *MemoryBudget) Admit(ctx context.Context, e imageproc.MemoryEstimate) (release func(), err error) {
	if e.Bytes > b.total {
		return nil, imageproc.TooLargeForMemory(e, b.total)
	}
	n := max(e.Bytes, 1)
	if err := b.sem.Acquire(ctx, n); err != nil {
		return nil, err
	}
	return func() { b.sem.Release(n) }, nil
}
