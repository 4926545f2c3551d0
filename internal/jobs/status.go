package jobs

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"uploader/internal/upload"
)

// StatusChannel is the Redis pub/sub channel on which a changed upload's
// id is published. Every web process subscribes once and wakes the event
// streams of that upload, so a stream reads the database when something
// changed rather than on a timer.
const StatusChannel = "uploader:status"

// StatusFeed publishes and follows upload status changes over Redis
// pub/sub. Delivery is best effort (a message published while a
// subscriber reconnects is lost), so streams still read the database now
// and then.
type StatusFeed struct {
	client redis.UniversalClient
	log    *slog.Logger

	mu      sync.Mutex
	subs    map[string]map[chan struct{}]struct{}
	stopRun context.CancelFunc
	runDone chan struct{}
}

// NewStatusFeed connects to Redis through opt. Run must be called for
// Subscribe to receive anything; Publish works without it.
func NewStatusFeed(opt asynq.RedisConnOpt, log *slog.Logger) *StatusFeed {
	return &StatusFeed{client: opt.MakeRedisClient().(redis.UniversalClient), log: log, subs: map[string]map[chan struct{}]struct{}{}}
}

// Publish announces that upload id changed. Errors are only logged: a
// stream that misses it reads the database at its fallback interval.
func (f *StatusFeed) Publish(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := f.client.Publish(ctx, StatusChannel, id).Err(); err != nil {
		f.log.Debug("status publish failed", "upload_id", id, "err", err)
	}
}

// Run follows the channel until ctx ends, waking the subscribers of each
// id published. go-redis resubscribes by itself after a lost connection.
func (f *StatusFeed) Run(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	defer close(done)
	f.mu.Lock()
	f.stopRun, f.runDone = cancel, done
	f.mu.Unlock()
	ps := f.client.Subscribe(ctx, StatusChannel)
	defer ps.Close()
	ch := ps.Channel()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-ch:
			if !ok {
				return
			}
			f.wake(m.Payload)
		}
	}
}

func (f *StatusFeed) wake(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.subs[id] {
		select {
		case c <- struct{}{}:
		default: // already due to look
		}
	}
}

// Subscribe returns a channel that receives when upload id changes, and a
// function that ends the subscription.
func (f *StatusFeed) Subscribe(id string) (<-chan struct{}, func()) {
	c := make(chan struct{}, 1)
	f.mu.Lock()
	if f.subs[id] == nil {
		f.subs[id] = map[chan struct{}]struct{}{}
	}
	f.subs[id][c] = struct{}{}
	f.mu.Unlock()
	return c, func() {
		f.mu.Lock()
		delete(f.subs[id], c)
		if len(f.subs[id]) == 0 {
			delete(f.subs, id)
		}
		f.mu.Unlock()
	}
}

// Close ends Run, then releases the Redis connections.
func (f *StatusFeed) Close() error {
	f.mu.Lock()
	stop, done := f.stopRun, f.runDone
	f.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	return f.client.Close()
}

// Notifying returns st with every status change published on f: the row
// is written first, then the change announced.
func Notifying(st upload.Store, f *StatusFeed) upload.Store {
	return notifyingStore{Store: st, feed: f}
}

type notifyingStore struct {
	upload.Store
	feed *StatusFeed
}

func (s notifyingStore) MarkProcessing(ctx context.Context, id, contentType string, bytes int64) (bool, error) {
	changed, err := s.Store.MarkProcessing(ctx, id, contentType, bytes)
	if err == nil && changed {
		s.feed.Publish(ctx, id)
	}
	return changed, err
}

func (s notifyingStore) MarkReady(ctx context.Context, u *upload.Upload) error {
	err := s.Store.MarkReady(ctx, u)
	if err == nil {
		s.feed.Publish(ctx, u.ID)
	}
	return err
}

func (s notifyingStore) MarkFailed(ctx context.Context, id, code, message string) error {
	err := s.Store.MarkFailed(ctx, id, code, message)
	if err == nil {
		s.feed.Publish(ctx, id)
	}
	return err
}

func (s notifyingStore) DeleteUpload(ctx context.Context, id string) error {
	err := s.Store.DeleteUpload(ctx, id)
	if err == nil {
		s.feed.Publish(ctx, id)
	}
	return err
}
