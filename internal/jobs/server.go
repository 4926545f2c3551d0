package jobs

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"uploader/internal/upload"
)

// ServerConfig tunes the worker.
type ServerConfig struct {
	Concurrency int
	Profiles    upload.Profiles
	Logger      *slog.Logger
	// PollInterval is how often an idle worker checks its queues (asynq
	// has no blocking pop); retries and scheduled tasks are moved to them
	// every PollInterval or every second, whichever is longer. The default,
	// 100 ms, starts a job about 50 ms after it is queued (p99 about 150 ms)
	// and costs an idle worker about 100 Redis commands a second, counting
	// those inside asynq's scripts; asynq's own default of 1 s waits about
	// 500 ms (p99 1.3 s) for 13 commands a second. `go run ./cmd/servicebench`
	// measures both.
	PollInterval time.Duration
}

// NewServer builds the asynq server for the worker role. The caller calls
// Start and Shutdown from its own signal context (asynq's Run would trap
// signals itself, which a process running web and worker together must not).
func NewServer(opt asynq.RedisConnOpt, c ServerConfig) *asynq.Server {
	poll := c.PollInterval
	if poll <= 0 {
		poll = 100 * time.Millisecond
	}
	return asynq.NewServer(opt, asynq.Config{
		Concurrency:              c.Concurrency,
		Queues:                   Queues(c.Profiles),
		TaskCheckInterval:        poll,
		DelayedTaskCheckInterval: max(poll, time.Second),
		// Heroku sends SIGKILL 30 s after SIGTERM: hand unfinished tasks
		// back well before that.
		ShutdownTimeout: 20 * time.Second,
		RetryDelayFunc:  retryDelay,
		Logger:          slogAdapter{c.Logger.With("component", "asynq")},
		LogLevel:        asynq.WarnLevel,
	})
}

// retryDelay backs off exponentially from 2 s, capped at 5 minutes, so a
// short S3 or database outage is ridden out quickly and a long one does not
// hammer the service.
func retryDelay(n int, _ error, _ *asynq.Task) time.Duration {
	d := 2 * time.Second << min(n, 8)
	return min(d, 5*time.Minute)
}

type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...)) }
func (a slogAdapter) Info(args ...any)  { a.l.Info(fmt.Sprint(args...)) }
func (a slogAdapter) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...)) }
func (a slogAdapter) Error(args ...any) { a.l.Error(fmt.Sprint(args...)) }
func (a slogAdapter) Fatal(args ...any) { a.l.Error(fmt.Sprint(args...)) }
