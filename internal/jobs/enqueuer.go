package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"

	"uploader/internal/upload"
)

// Enqueuer queues image jobs. It is what the web role holds.
type Enqueuer struct {
	client    *asynq.Client
	inspector *asynq.Inspector
}

// NewEnqueuer connects to Redis through opt.
func NewEnqueuer(opt asynq.RedisConnOpt) *Enqueuer {
	return &Enqueuer{client: asynq.NewClient(opt), inspector: asynq.NewInspector(opt)}
}

// EnqueueProcess queues the image job for an upload. Queuing an upload that
// already has a live task is not an error: the task ID makes it a no-op. A
// finished or archived task with the same ID (an earlier failed run) is
// removed first, so that a retried upload runs again. Redis being down
// answers an EUNAVAILABLE error the client may retry.
func (e *Enqueuer) EnqueueProcess(ctx context.Context, id string, p upload.Profile) error {
	task, err := NewProcessTask(id, p)
	if err != nil {
		return err
	}
	for attempt := 0; attempt < 2; attempt++ {
		_, err = e.client.EnqueueContext(ctx, task)
		if err == nil {
			return nil
		}
		if !errors.Is(err, asynq.ErrTaskIDConflict) {
			return upload.Wrap(upload.EUNAVAILABLE, "The job queue is unavailable; please retry in a moment.",
				fmt.Errorf("jobs: enqueue %s: %w", id, err))
		}
		info, ierr := e.inspector.GetTaskInfo(QueueOf(p), id)
		if ierr != nil || (info.State != asynq.TaskStateArchived && info.State != asynq.TaskStateCompleted) {
			return nil // a live task exists: it will do the work
		}
		if derr := e.inspector.DeleteTask(QueueOf(p), id); derr != nil && !errors.Is(derr, asynq.ErrTaskNotFound) {
			return fmt.Errorf("jobs: clear finished task %s: %w", id, derr)
		}
	}
	return fmt.Errorf("jobs: enqueue %s: %w", id, err)
}

// Close releases the Redis connections.
func (e *Enqueuer) Close() error {
	return errors.Join(e.client.Close(), e.inspector.Close())
}

// Live reports whether a task for the upload is waiting, running or due
// for a retry. When Redis cannot say, it answers true, so that callers do
// not pile up duplicates in an outage.
func (e *Enqueuer) Live(ctx context.Context, id string, p upload.Profile) bool {
	info, err := e.inspector.GetTaskInfo(QueueOf(p), id)
	if errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound) {
		return false
	} else if err != nil {
		return true
	}
	return info.State != asynq.TaskStateArchived && info.State != asynq.TaskStateCompleted
}

// Ping checks that Redis answers, for /healthz.
func (e *Enqueuer) Ping(ctx context.Context) error {
	_, err := e.inspector.Queues()
	return err
}
