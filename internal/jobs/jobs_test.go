package jobs

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"uploader/internal/devstack"
	"uploader/internal/s3store"
	"uploader/internal/sqlstore"
	"uploader/internal/testenv"
	"uploader/internal/upload"
)

var s3 *s3store.Store

// TestMain starts the one embedded S3 gateway this test binary may run.
func TestMain(m *testing.M) {
	os.Exit(testenv.WithS3(m, func(gw *devstack.S3) (err error) {
		s3, err = s3store.New(context.Background(), s3store.Config{
			Bucket: "jobs-test", Region: gw.Region, Endpoint: gw.Endpoint, AccessKey: gw.AccessKey, SecretKey: gw.SecretKey,
		})
		if err != nil {
			return err
		}
		return s3.EnsureBucket(context.Background())
	}))
}

type env struct {
	db    *sqlstore.DB
	redis asynq.RedisConnOpt
	enq   *Enqueuer
	log   *slog.Logger
	profs upload.Profiles
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, "sqlite:"+testenv.SQLiteURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	addr, n := testenv.RedisAddr(t)
	opt := asynq.RedisClientOpt{Addr: addr, DB: n}
	enq := NewEnqueuer(opt)
	t.Cleanup(func() { enq.Close() })
	return &env{db: db, redis: opt, enq: enq, log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), profs: upload.DefaultProfiles(50_000_000)}
}

func jpegBytes(t *testing.T, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 90, 255})
		}
	}
	var b bytes.Buffer
	jpeg.Encode(&b, img, nil)
	return b.Bytes()
}

func (e *env) newUpload(t *testing.T, status upload.Status, created time.Time, withObject bool) *upload.Upload {
	t.Helper()
	ctx := context.Background()
	u := &upload.Upload{
		ID: upload.NewID(created), Profile: "avatar", Owner: "t_test", Filename: "a.jpg",
		DeclaredType: "image/jpeg", DeclaredBytes: 100, Status: upload.StatusPending,
		CreatedAt: created, UpdatedAt: created, ExpiresAt: created.Add(10 * time.Minute),
	}
	if err := e.db.CreateUpload(ctx, u); err != nil {
		t.Fatal(err)
	}
	if withObject {
		if err := s3.Put(ctx, upload.IncomingKey(u.ID), jpegBytes(t, 64, 48), "image/jpeg", ""); err != nil {
			t.Fatal(err)
		}
	}
	if status == upload.StatusProcessing {
		if _, err := e.db.MarkProcessing(ctx, u.ID, "image/jpeg", 100); err != nil {
			t.Fatal(err)
		}
	}
	return u
}

func TestReconcile(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	now := time.Now()
	long := now.Add(-time.Hour)

	stuck := e.newUpload(t, upload.StatusProcessing, long, true)                  // queue lost: re-queue
	abandoned := e.newUpload(t, upload.StatusPending, long, true)                 // file arrived, no complete: finish
	unused := e.newUpload(t, upload.StatusPending, long, false)                   // permission never used: remove
	later := now.Add(2 * time.Hour)                                               // the reconciler's clock
	fresh := e.newUpload(t, upload.StatusPending, later.Add(-time.Minute), false) // still valid: leave
	if err := s3.Put(ctx, upload.IncomingKey(upload.NewID(long)), []byte("stray"), "image/jpeg", ""); err != nil {
		t.Fatal(err)
	}

	r := &Reconciler{Store: e.db, Objects: s3, Enqueuer: e.enq, Profiles: e.profs, Logger: e.log,
		Now: func() time.Time { return later }} // the stray object is now older than OrphanAge
	rep, err := r.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Requeued != 1 || rep.Completed != 1 || rep.Expired != 1 {
		t.Errorf("report %+v, want 1 requeued, 1 completed, 1 expired", rep)
	}
	if rep.OrphansDeleted < 1 {
		t.Errorf("report %+v: the stray incoming object was not deleted", rep)
	}
	for _, u := range []*upload.Upload{stuck, abandoned} {
		if !e.enq.Live(ctx, u.ID, e.profs["avatar"]) {
			t.Errorf("%s: no task queued", u.ID)
		}
	}
	if _, err := e.db.Upload(ctx, unused.ID); upload.ErrorCode(err) != upload.ENOTFOUND {
		t.Errorf("unused pending upload still there: %v", err)
	}
	if u, err := e.db.Upload(ctx, fresh.ID); err != nil || u.Status != upload.StatusPending {
		t.Errorf("fresh pending upload touched: %v %v", u, err)
	}
	// A second pass finds the queued tasks live and does nothing more.
	rep, err = r.Run(ctx)
	if err != nil || rep.Requeued != 0 || rep.Completed != 0 {
		t.Errorf("second pass: %+v %v", rep, err)
	}
}

// flakyObjects wraps the real S3 store and fails the 3rd and 4th puts: a
// fault injector standing in for an S3 outage in the middle of a job.
type flakyObjects struct {
	*s3store.Store
	puts atomic.Int32
}

func (f *flakyObjects) Put(ctx context.Context, key string, data []byte, ct, cc string) error {
	if n := f.puts.Add(1); n == 3 || n == 4 {
		return errors.New("injected: connection reset by peer")
	}
	return f.Store.Put(ctx, key, data, ct, cc)
}

// TestProcessRetriesThenSucceeds runs the real asynq server: a transient
// S3 failure is retried and the upload still ends ready, with no partial
// variants left behind from the failed attempt.
func TestProcessRetriesThenSucceeds(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	u := e.newUpload(t, upload.StatusProcessing, time.Now(), true)
	objs := &flakyObjects{Store: s3}

	srv := asynq.NewServer(e.redis, asynq.Config{
		Concurrency: 1, Queues: Queues(e.profs), TaskCheckInterval: 50 * time.Millisecond,
		DelayedTaskCheckInterval: 100 * time.Millisecond,
		RetryDelayFunc:           func(int, error, *asynq.Task) time.Duration { return 100 * time.Millisecond },
		Logger:                   slogAdapter{e.log}, LogLevel: asynq.ErrorLevel,
	})
	mux := asynq.NewServeMux()
	mux.Handle(TypeProcess, &ProcessHandler{Store: e.db, Objects: objs, Profiles: e.profs, Logger: e.log})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	if err := e.enq.EnqueueProcess(ctx, u.ID, e.profs["avatar"]); err != nil {
		t.Fatal(err)
	}
	got := waitStatus(t, e.db, u.ID)
	if objs.puts.Load() < 4 {
		t.Fatalf("only %d puts: the failure was never injected", objs.puts.Load())
	}
	if got.Status != upload.StatusReady {
		t.Fatalf("status %s (%s)", got.Status, got.ErrorMessage)
	}
	objects, err := s3.List(ctx, upload.VariantDir(u.ID))
	if err != nil {
		t.Fatal(err)
	}
	if len(objects) != len(got.Variants) {
		t.Errorf("%d objects under variants/, %d variants recorded: a failed attempt left orphans", len(objects), len(got.Variants))
	}
	if _, err := s3.Head(ctx, upload.OriginalKey(u.ID)); err != nil {
		t.Errorf("original not kept: %v", err)
	}
	// The worker deletes the incoming copy just after the row turns ready
	// (process.go), so the status can be seen first: wait for the delete,
	// with a deadline, rather than expect it at once (CI met the window).
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := s3.Head(ctx, upload.IncomingKey(u.ID))
		if upload.ErrorCode(err) == upload.ENOTFOUND {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("incoming object not removed 10 s after success: %v", err)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestProcessRefusalIsFinal: a file that is not an image fails at once,
// with a reason, and is not retried.
func TestProcessRefusalIsFinal(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	u := e.newUpload(t, upload.StatusProcessing, time.Now(), false)
	if err := s3.Put(ctx, upload.IncomingKey(u.ID), []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), "image/jpeg", ""); err != nil {
		t.Fatal(err)
	}
	h := &ProcessHandler{Store: e.db, Objects: s3, Profiles: e.profs, Logger: e.log}
	task, _ := NewProcessTask(u.ID, e.profs["avatar"])
	err := h.ProcessTask(ctx, task)
	if !errors.Is(err, asynq.SkipRetry) {
		t.Errorf("error %v, want SkipRetry", err)
	}
	got, _ := e.db.Upload(ctx, u.ID)
	if got.Status != upload.StatusFailed || got.ErrorCode != upload.EUNSUPPORTED || got.ErrorMessage == "" {
		t.Errorf("row %s %s %q, want failed unsupported_type with a reason", got.Status, got.ErrorCode, got.ErrorMessage)
	}
	if objs, _ := s3.List(ctx, upload.VariantDir(u.ID)); len(objs) != 0 {
		t.Errorf("%d objects published for a refused file", len(objs))
	}
	// A payload naming something that is not an upload id never reaches S3.
	bad := asynq.NewTask(TypeProcess, []byte(`{"upload_id":"../originals/x","profile":"avatar"}`))
	if err := h.ProcessTask(ctx, bad); !errors.Is(err, asynq.SkipRetry) {
		t.Errorf("hostile payload: %v, want SkipRetry", err)
	}
}

func waitStatus(t *testing.T, db *sqlstore.DB, id string) *upload.Upload {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		u, err := db.Upload(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if u.Status == upload.StatusReady || u.Status == upload.StatusFailed {
			return u
		}
		if time.Now().After(deadline) {
			t.Fatalf("upload still %s", u.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
