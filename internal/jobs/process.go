package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"uploader/internal/imageproc"
	"uploader/internal/s3store"
	"uploader/internal/upload"
)

// CacheControl is set on every published variant: variant keys carry a
// version, so their bytes never change and may be cached for a year.
const CacheControl = "public, max-age=31536000, immutable"

// Objects is what the image job needs of the object store.
type Objects interface {
	Get(ctx context.Context, key string, maxBytes int64) ([]byte, error)
	Put(ctx context.Context, key string, data []byte, contentType, cacheControl string) error
	Copy(ctx context.Context, srcKey, dstKey string) error
	Delete(ctx context.Context, keys ...string) error
	List(ctx context.Context, prefix string) ([]s3store.Object, error)
}

// ProcessHandler runs image:process tasks.
type ProcessHandler struct {
	Store     upload.Store
	Objects   Objects
	Profiles  upload.Profiles
	Optimizer *imageproc.Optimizer
	// Memory admits each job by its estimated peak (WORKER_MEMORY_MB);
	// nil runs every job at once, as tests of other things do.
	Memory *MemoryBudget
	Logger *slog.Logger
}

// ProcessTask implements asynq.Handler.
func (h *ProcessHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p ProcessPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || !upload.ValidID(p.UploadID) {
		return fmt.Errorf("image:process: bad payload %q: %w", t.Payload(), asynq.SkipRetry)
	}
	log := h.Logger.With("upload_id", p.UploadID, "task", TypeProcess)
	err := h.process(ctx, log, p)
	if err == nil {
		return nil
	}
	if final := upload.ErrorCode(err); !upload.Retryable(final) {
		// Retrying cannot fix a file that is not an image, too large or corrupt.
		log.Info("upload refused", "code", final, "reason", upload.ErrorMessage(err))
		merr := h.Store.MarkFailed(ctx, p.UploadID, final, upload.ErrorMessage(err))
		if merr != nil && upload.ErrorCode(merr) != upload.ENOTFOUND {
			return merr // the row must say failed: retry until it does
		}
		return fmt.Errorf("%w: %v", asynq.SkipRetry, err)
	}
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	log.Warn("processing failed", "err", err, "retried", retried, "max_retry", maxRetry)
	if retried >= maxRetry {
		msg := fmt.Sprintf("Processing failed after %d attempts; please upload the file again.", retried+1)
		if merr := h.Store.MarkFailed(context.WithoutCancel(ctx), p.UploadID, upload.EINTERNAL, msg); merr != nil {
			log.Error("mark failed", "err", merr)
		}
	}
	return err
}

func (h *ProcessHandler) process(ctx context.Context, log *slog.Logger, p ProcessPayload) error {
	start := time.Now()
	u, err := h.Store.Upload(ctx, p.UploadID)
	if upload.ErrorCode(err) == upload.ENOTFOUND {
		log.Info("upload deleted before processing; nothing to do")
		return nil
	} else if err != nil {
		return err
	}
	if u.Status == upload.StatusReady {
		return nil // a duplicate delivery after success
	}
	prof, ok := h.Profiles[u.Profile]
	if !ok {
		return upload.Errorf(upload.EINVALID, "The profile %q no longer exists.", u.Profile)
	}

	// The incoming object is the source on the first run; the private
	// original is the source when an earlier run already moved it.
	src := upload.IncomingKey(u.ID)
	data, err := h.Objects.Get(ctx, src, prof.MaxBytes)
	if upload.ErrorCode(err) == upload.ENOTFOUND {
		src = upload.OriginalKey(u.ID)
		data, err = h.Objects.Get(ctx, src, prof.MaxBytes)
		if upload.ErrorCode(err) == upload.ENOTFOUND {
			return upload.Errorf(upload.ENOTFOUND, "The uploaded file is no longer in storage; please upload it again.")
		}
	}
	if upload.ErrorCode(err) == upload.ETOOLARGE {
		return upload.Errorf(upload.ETOOLARGE, "This file is larger than the %s profile allows (%d MB).", prof.Name, prof.MaxBytes>>20)
	}
	if err != nil {
		return err
	}

	size := int64(len(data))
	opts := imageproc.Options{
		MaxPixels: prof.MaxPixels,
		Optimizer: h.Optimizer,
	}
	if h.Memory != nil {
		// From the headers, before any pixel buffer exists.
		est, err := imageproc.Estimate(data, prof, opts)
		if err != nil {
			return err
		}
		release, err := h.Memory.Admit(ctx, est)
		if err != nil {
			return err
		}
		defer release()
		log.Debug("admitted", "estimate_mb", est.Bytes>>20, "what", est.What)
	}
	res, err := imageproc.Process(ctx, data, prof, opts)
	data = nil // only its length is needed from here; the collector may take it
	if err != nil {
		return err
	}

	version, err := h.Store.BumpVersion(ctx, u.ID)
	if err != nil {
		return err
	}
	variants := make([]upload.Variant, 0, len(res.Outputs))
	written := make([]string, 0, len(res.Outputs))
	for _, o := range res.Outputs {
		key := upload.VariantKey(u.ID, version, o.File)
		if err := h.Objects.Put(ctx, key, o.Data, o.ContentType, CacheControl); err != nil {
			h.cleanup(log, written)
			return err
		}
		written = append(written, key)
		variants = append(variants, upload.Variant{
			UploadID: u.ID, Name: o.File, Key: key, ContentType: o.ContentType,
			Width: o.Width, Height: o.Height, Bytes: int64(len(o.Data)), OriginalBytes: o.OriginalBytes,
		})
	}
	if src == upload.IncomingKey(u.ID) {
		if err := h.Objects.Copy(ctx, src, upload.OriginalKey(u.ID)); err != nil {
			h.cleanup(log, written)
			return err
		}
	}

	old := u.Variants
	u.ContentType, u.Width, u.Height, u.Blurhash = res.ContentType, res.Width, res.Height, res.Blurhash
	u.Bytes = size
	u.Variants = variants
	u.Version = version
	// Two runs overlap only when a lease lapsed while the first still ran;
	// MarkReady accepts only the newest version, and a stale run drops its
	// output (the newer run owns the upload).
	if err := h.Store.MarkReady(ctx, u); upload.ErrorCode(err) == upload.ECONFLICT {
		h.cleanup(log, written)
		log.Info("a newer run owns this upload; dropping this run's output", "version", version, "err", err)
		return nil
	} else if err != nil {
		h.cleanup(log, written)
		return err
	}
	// The row now points at the new keys: the incoming copy and every
	// earlier version's objects are no longer needed. Earlier versions
	// include those of runs that never finished (a worker killed, or
	// stopped while its task was handed back), which no row points at;
	// later versions belong to a newer run and are left alone.
	stale := []string{upload.IncomingKey(u.ID)}
	if objs, err := h.Objects.List(ctx, upload.VariantDir(u.ID)); err != nil {
		log.Warn("list earlier versions", "err", err)
		for _, v := range old {
			stale = append(stale, v.Key)
		}
	} else {
		for _, o := range objs {
			if earlierVersion(o.Key, u.ID, version) {
				stale = append(stale, o.Key)
			}
		}
	}
	if err := h.Objects.Delete(ctx, stale...); err != nil {
		log.Warn("remove stale objects", "err", err)
	}
	log.Info("upload ready", "variants", len(variants), "width", res.Width, "height", res.Height,
		"version", version, "elapsed_ms", time.Since(start).Milliseconds())
	return nil
}

// earlierVersion reports whether key is variants/{id}/{v}/... with v
// below version.
func earlierVersion(key, id string, version int) bool {
	rest, ok := strings.CutPrefix(key, upload.VariantDir(id))
	if !ok {
		return false
	}
	v, _, ok := strings.Cut(rest, "/")
	n, err := strconv.Atoi(v)
	return ok && err == nil && n < version
}

// cleanup removes variants written by a run that did not finish, so no
// orphan objects stay public.
func (h *ProcessHandler) cleanup(log *slog.Logger, keys []string) {
	if len(keys) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Objects.Delete(ctx, keys...); err != nil {
		log.Warn("remove partial variants", "err", err, "keys", len(keys))
	}
}
