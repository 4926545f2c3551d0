package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"uploader/internal/jobs"
	"uploader/internal/upload"
)

// serverKind builds a worker's asynq server: ours (jobs.NewServer) or the
// reference, asynq with its default intervals.
type serverKind struct {
	name string
	new  func(asynq.RedisConnOpt) *asynq.Server
}

func (b *bench) serverKinds() (ours, ref serverKind) {
	ours = serverKind{"ours (jobs.NewServer)", func(opt asynq.RedisConnOpt) *asynq.Server {
		return jobs.NewServer(opt, jobs.ServerConfig{Concurrency: 2, Profiles: b.profiles, Logger: b.log})
	}}
	ref = serverKind{"asynq defaults", func(opt asynq.RedisConnOpt) *asynq.Server {
		return asynq.NewServer(opt, asynq.Config{Concurrency: 2, Queues: jobs.Queues(b.profiles), LogLevel: asynq.WarnLevel})
	}}
	return ours, ref
}

// p5 measures job pickup latency on the shared Redis, ours against asynq's
// defaults, then the Redis commands per second each costs while idle, on a
// Redis of the bench's own.
func (b *bench) p5(ctx context.Context) ([]row, error) {
	ours, ref := b.serverKinds()
	opt := asynq.RedisClientOpt{Addr: b.redis.addr, DB: b.redis.db}
	refLat, err := b.pickup(ctx, opt, ref)
	if err != nil {
		return nil, err
	}
	ourLat, err := b.pickup(ctx, opt, ours)
	if err != nil {
		return nil, err
	}
	rows := []row{
		latencyRow("P5 job pickup p50", 50, 100*time.Millisecond, ourLat, refLat),
		latencyRow("P5 job pickup p99", 99, 250*time.Millisecond, ourLat, refLat),
	}

	priv, err := startPrivateRedis(ctx, b.dir)
	if err != nil {
		return rows, fmt.Errorf("P5 idle load: a private redis-server: %w", err)
	}
	defer priv.stop()
	popt := asynq.RedisClientOpt{Addr: priv.addr}
	refCmds, err := b.idleLoad(ctx, priv, popt, ref)
	if err != nil {
		return rows, err
	}
	ourCmds, err := b.idleLoad(ctx, priv, popt, ours)
	if err != nil {
		return rows, err
	}
	rows = append(rows, row{
		name: "Redis commands/s, idle worker", target: "report",
		ours: fmt.Sprintf("%.1f/s (poll %s)", ourCmds, pollInterval), ref: fmt.Sprintf("%.1f/s (poll 1s)", refCmds),
		ratio: ourCmds / refCmds,
	})
	return rows, nil
}

// pollInterval is jobs.NewServer's default, for the table's label.
const pollInterval = 100 * time.Millisecond

func latencyRow(name string, pct int, limit time.Duration, ours, ref []time.Duration) row {
	o, r := percentile(ours, pct), percentile(ref, pct)
	return row{
		name: name, target: "≤ " + ms(limit), ours: ms(o), ref: ms(r) + " (asynq defaults)",
		ratio: float64(o) / float64(r), pass: o <= limit, judged: true,
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }

// percentile returns the p-th percentile (nearest rank) of ds.
func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(0, min(len(s)-1, i-1))]
}

// pickup enqueues b.p5Tasks image tasks 50 to 100 ms apart, so the queue
// is empty when each arrives (the worst case for a polling worker), and
// returns for each the time from EnqueueProcess returning to the handler
// starting.
func (b *bench) pickup(ctx context.Context, opt asynq.RedisClientOpt, kind serverKind) ([]time.Duration, error) {
	if err := b.redis.flush(ctx); err != nil {
		return nil, err
	}
	var mu sync.Mutex
	started := map[string]time.Time{}
	all := make(chan struct{})
	mux := asynq.NewServeMux()
	mux.HandleFunc(jobs.TypeProcess, func(_ context.Context, t *asynq.Task) error {
		now := time.Now()
		var p jobs.ProcessPayload
		if err := json.Unmarshal(t.Payload(), &p); err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		started[p.UploadID] = now
		if len(started) == b.p5Tasks {
			close(all)
		}
		return nil
	})
	srv := kind.new(opt)
	if err := srv.Start(mux); err != nil {
		return nil, err
	}
	defer srv.Shutdown()
	enq := jobs.NewEnqueuer(opt)
	defer enq.Close()
	prof := b.profiles["avatar"]

	b.logf("P5: %d tasks, 50–100 ms apart, %s", b.p5Tasks, kind.name)
	time.Sleep(time.Second) // the server's first polls
	enqueued := map[string]time.Time{}
	for range b.p5Tasks {
		time.Sleep(50*time.Millisecond + rand.N(50*time.Millisecond))
		id := upload.NewID(time.Now())
		if err := enq.EnqueueProcess(ctx, id, prof); err != nil {
			return nil, err
		}
		enqueued[id] = time.Now()
	}
	select {
	case <-all:
	case <-time.After(10 * time.Second):
		return nil, fmt.Errorf("P5: %s started %d of %d tasks", kind.name, len(started), b.p5Tasks)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	mu.Lock()
	defer mu.Unlock()
	lat := make([]time.Duration, 0, len(enqueued))
	for id, t := range enqueued {
		lat = append(lat, started[id].Sub(t))
	}
	return lat, nil
}

// idleLoad counts the commands per second a worker with nothing to do
// sends to Redis: the cost of its polling.
func (b *bench) idleLoad(ctx context.Context, r *privateRedis, opt asynq.RedisClientOpt, kind serverKind) (float64, error) {
	if err := r.client.FlushDB(ctx).Err(); err != nil {
		return 0, err
	}
	srv := kind.new(opt)
	mux := asynq.NewServeMux()
	mux.HandleFunc(jobs.TypeProcess, func(context.Context, *asynq.Task) error { return nil })
	if err := srv.Start(mux); err != nil {
		return 0, err
	}
	defer srv.Shutdown()
	time.Sleep(2 * time.Second) // past start-up
	if err := r.client.ConfigResetStat(ctx).Err(); err != nil {
		return 0, err
	}
	const window = 5 * time.Second
	time.Sleep(window)
	c, err := r.commands(ctx)
	if err != nil {
		return 0, err
	}
	n := float64(c) / window.Seconds()
	b.logf("P5: idle Redis load, %s: %.1f commands/s (%s)", kind.name, n, r.commandStats(ctx))
	return n, nil
}
