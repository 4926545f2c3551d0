package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"uploader/internal/s3store"
	"uploader/internal/upload"
)

// TypeReconcile is the periodic task that finds uploads the normal flow
// left behind.
const TypeReconcile = "uploads:reconcile"

// Grace is how long after its policy expires a pending upload is kept:
// an upload that started just before expiry may still be arriving.
const Grace = 5 * time.Minute

// OrphanAge is how old an incoming/ object without a live upload must be
// before it is removed.
const OrphanAge = time.Hour

// ReconcileObjects is what the reconciler needs of the object store.
type ReconcileObjects interface {
	Head(ctx context.Context, key string) (s3store.ObjectInfo, error)
	List(ctx context.Context, prefix string) ([]s3store.Object, error)
	Delete(ctx context.Context, keys ...string) error
	ListMultipartUploads(ctx context.Context, prefix string) ([]s3store.MultipartUpload, error)
	AbortMultipart(ctx context.Context, key, uploadID string) error
	ListParts(ctx context.Context, key, uploadID string) ([]s3store.Part, error)
	CompleteMultipart(ctx context.Context, key, uploadID string, parts []s3store.Part) error
}

// Reconciler repairs what crashes and lost messages leave behind:
//   - uploads in processing with no live task are queued again (after a
//     Redis restart, a lost enqueue, or a worker killed past its lease);
//   - pending uploads whose policy lapsed are completed when their file did
//     arrive (the browser closed before calling complete), else removed;
//   - incoming/ objects with no row but our metadata (a single POST whose
//     client never called complete) are recorded and completed;
//   - other incoming/ objects with no upload waiting for them are deleted;
//   - multipart uploads whose row is gone or expired are aborted, so their
//     parts stop costing money (the lifecycle rule's backstop may be
//     missing: MinIO drops it).
type Reconciler struct {
	Store    upload.Store
	Objects  ReconcileObjects
	Enqueuer *Enqueuer
	Profiles upload.Profiles
	Logger   *slog.Logger
	Now      func() time.Time
}

// ReconcileReport says what one pass did.
type ReconcileReport struct {
	Requeued, Completed, Expired, OrphansDeleted, MultipartAborted int
}

// ProcessTask implements asynq.Handler for TypeReconcile.
func (r *Reconciler) ProcessTask(ctx context.Context, _ *asynq.Task) error {
	_, err := r.Run(ctx)
	return err
}

// Run makes one pass and logs what it did.
func (r *Reconciler) Run(ctx context.Context) (ReconcileReport, error) {
	var rep ReconcileReport
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	errs := []error{r.requeue(ctx, &rep), r.expire(ctx, now, &rep), r.orphans(ctx, now, &rep), r.abortParts(ctx, now, &rep)}
	err := errors.Join(errs...)
	if rep != (ReconcileReport{}) || err != nil {
		r.Logger.Info("reconciled", "requeued", rep.Requeued, "completed", rep.Completed,
			"expired", rep.Expired, "orphans_deleted", rep.OrphansDeleted, "multipart_aborted", rep.MultipartAborted, "err", err)
	}
	return rep, err
}

func (r *Reconciler) requeue(ctx context.Context, rep *ReconcileReport) error {
	// Every processing row, however recent: a row whose task is live is
	// skipped, and one whose complete call is still enqueuing is harmless
	// to enqueue twice (the task ID dedupes).
	us, err := r.Store.UploadsByStatus(ctx, upload.StatusProcessing, time.Now().Add(time.Hour), 1000)
	if err != nil {
		return err
	}
	for _, u := range us {
		p, ok := r.Profiles[u.Profile]
		if !ok {
			r.Store.MarkFailed(ctx, u.ID, upload.EINVALID, fmt.Sprintf("The profile %q no longer exists.", u.Profile))
			continue
		}
		if r.Enqueuer.Live(ctx, u.ID, p) {
			continue
		}
		// A task that finished between the listing and the check leaves
		// the row ready or failed: look again before queuing a new one.
		if cur, err := r.Store.Upload(ctx, u.ID); err != nil || cur.Status != upload.StatusProcessing {
			continue
		}
		if err := r.Enqueuer.EnqueueProcess(ctx, u.ID, p); err != nil {
			return err
		}
		r.Logger.Info("re-queued stuck upload", "upload_id", u.ID)
		rep.Requeued++
	}
	return nil
}

func (r *Reconciler) expire(ctx context.Context, now time.Time, rep *ReconcileReport) error {
	us, err := r.Store.UploadsByStatus(ctx, upload.StatusPending, now.Add(-Grace), 1000)
	if err != nil {
		return err
	}
	for _, u := range us {
		if now.Before(u.ExpiresAt.Add(Grace)) {
			continue
		}
		p, ok := r.Profiles[u.Profile]
		if u.MultipartID != "" {
			r.finishParts(ctx, u)
		}
		info, herr := r.Objects.Head(ctx, upload.IncomingKey(u.ID))
		switch {
		case herr == nil && ok && info.Size > 0 && info.Size <= p.MaxBytes:
			// The file arrived but nobody said so: finish the job.
			if _, err := r.Store.MarkProcessing(ctx, u.ID, u.DeclaredType, info.Size); err != nil {
				return err
			}
			if err := r.Enqueuer.EnqueueProcess(ctx, u.ID, p); err != nil {
				return err
			}
			r.Logger.Info("completed abandoned upload", "upload_id", u.ID)
			rep.Completed++
		case upload.ErrorCode(herr) == upload.ENOTFOUND || herr == nil:
			if herr == nil {
				r.Objects.Delete(ctx, upload.IncomingKey(u.ID))
			}
			if u.MultipartID != "" {
				if err := r.Objects.AbortMultipart(ctx, upload.IncomingKey(u.ID), u.MultipartID); err != nil {
					return err
				}
				rep.MultipartAborted++
			}
			if err := r.Store.DeleteUpload(ctx, u.ID); err != nil && upload.ErrorCode(err) != upload.ENOTFOUND {
				return err
			}
			r.Logger.Info("expired unused upload permission", "upload_id", u.ID)
			rep.Expired++
		default:
			return herr
		}
	}
	return nil
}

// orphans handles incoming/ objects no live row waits for. One with no
// row whose metadata our policy signed is a single-POST upload nobody
// completed (the tab closed, the event was lost): it is recorded and its
// job queued, once Grace has given its client time to complete it. Any
// other, and the object of a finished upload, is deleted after OrphanAge.
func (r *Reconciler) orphans(ctx context.Context, now time.Time, rep *ReconcileReport) error {
	objs, err := r.Objects.List(ctx, upload.IncomingPrefix)
	if err != nil {
		return err
	}
	var stale []string
	for _, o := range objs {
		age := now.Sub(o.LastModified)
		if age < Grace {
			continue
		}
		id := strings.TrimPrefix(o.Key, upload.IncomingPrefix)
		u, err := r.Store.Upload(ctx, id)
		switch {
		case upload.ErrorCode(err) == upload.ENOTFOUND:
			ours, err := r.adopt(ctx, id, now, rep)
			if err != nil {
				return err
			}
			if ours || age < OrphanAge {
				continue
			}
		case err != nil:
			return err
		case u.Status == upload.StatusReady || u.Status == upload.StatusFailed:
			if age < OrphanAge {
				continue
			}
		default:
			continue // still wanted
		}
		stale = append(stale, o.Key)
	}
	if len(stale) == 0 {
		return nil
	}
	if err := r.Objects.Delete(ctx, stale...); err != nil {
		return err
	}
	rep.OrphansDeleted += len(stale)
	return nil
}

// adopt records the upload that the row-less incoming object id describes
// and queues its job, as complete would have. It reports false for an
// object that is not an upload of ours (no metadata, an unknown profile, a
// size the profile refuses), which is left to be deleted as an orphan.
func (r *Reconciler) adopt(ctx context.Context, id string, now time.Time, rep *ReconcileReport) (bool, error) {
	info, err := r.Objects.Head(ctx, upload.IncomingKey(id))
	if upload.ErrorCode(err) == upload.ENOTFOUND {
		return true, nil // deleted since the listing: nothing to delete
	} else if err != nil {
		return false, err
	}
	u, ok := upload.FromObject(id, info.Metadata, info.Size, info.ContentType, now)
	if !ok {
		return false, nil
	}
	p, ok := r.Profiles[u.Profile]
	if !ok || info.Size <= 0 || info.Size > p.MaxBytes || !p.Allows(u.DeclaredType) {
		return false, nil
	}
	if err := r.Store.CreateUpload(ctx, u); upload.ErrorCode(err) == upload.ECONFLICT {
		return true, nil // complete or the bucket's event recorded it meanwhile
	} else if err != nil {
		return false, err
	}
	if _, err := r.Store.MarkProcessing(ctx, u.ID, u.DeclaredType, info.Size); err != nil {
		return false, err
	}
	if err := r.Enqueuer.EnqueueProcess(ctx, u.ID, p); err != nil {
		return false, err
	}
	r.Logger.Info("completed an upload nobody completed", "upload_id", u.ID)
	rep.Completed++
	return true, nil
}

// finishParts completes the multipart upload of an expired row whose
// every part arrived at its planned size: its client sent the file but
// never said so. Only at expiry, when no client may resume any more.
func (r *Reconciler) finishParts(ctx context.Context, u *upload.Upload) {
	key := upload.IncomingKey(u.ID)
	stored, err := r.Objects.ListParts(ctx, key, u.MultipartID)
	if err != nil {
		return
	}
	have := map[int]s3store.Part{}
	for _, p := range stored {
		have[p.Number] = p
	}
	var parts []s3store.Part
	for _, spec := range upload.PlanParts(u.DeclaredBytes, u.PartSize) {
		p, ok := have[spec.Number]
		if !ok || p.Size != spec.Size {
			return
		}
		parts = append(parts, p)
	}
	if err := r.Objects.CompleteMultipart(ctx, key, u.MultipartID, parts); err != nil {
		r.Logger.Warn("could not complete the parts of an expired upload", "upload_id", u.ID, "err", err)
		return
	}
	r.Logger.Info("completed the parts of an expired upload", "upload_id", u.ID)
}

// abortParts aborts the multipart uploads under incoming/ that no pending,
// unexpired upload is waiting for: their row expired, was deleted, or
// finished with another upload ID. An upload younger than OrphanAge is
// left alone: its row may not be committed yet.
func (r *Reconciler) abortParts(ctx context.Context, now time.Time, rep *ReconcileReport) error {
	ups, err := r.Objects.ListMultipartUploads(ctx, upload.IncomingPrefix)
	if err != nil {
		return err
	}
	for _, mu := range ups {
		if now.Sub(mu.Initiated) < OrphanAge {
			continue
		}
		id := strings.TrimPrefix(mu.Key, upload.IncomingPrefix)
		u, err := r.Store.Upload(ctx, id)
		switch {
		case upload.ErrorCode(err) == upload.ENOTFOUND:
		case err != nil:
			return err
		case u.Status == upload.StatusPending && u.MultipartID == mu.UploadID && now.Before(u.ExpiresAt.Add(Grace)):
			continue // still being sent
		}
		if err := r.Objects.AbortMultipart(ctx, mu.Key, mu.UploadID); err != nil {
			return err
		}
		r.Logger.Info("aborted abandoned multipart upload", "upload_id", id, "s3_upload_id", mu.UploadID)
		rep.MultipartAborted++
	}
	return nil
}

// NewScheduler returns the scheduler that queues the reconciler every
// minute. Every worker process runs one; the unique option keeps several
// dynos from queuing a pass each.
func NewScheduler(opt asynq.RedisConnOpt, log *slog.Logger) (*asynq.Scheduler, error) {
	s := asynq.NewScheduler(opt, &asynq.SchedulerOpts{
		Logger:   slogAdapter{log.With("component", "scheduler")},
		LogLevel: asynq.WarnLevel,
	})
	_, err := s.Register("@every 1m", asynq.NewTask(TypeReconcile, nil),
		asynq.Queue("default"), asynq.Unique(55*time.Second), asynq.MaxRetry(0))
	if err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	return s, nil
}
