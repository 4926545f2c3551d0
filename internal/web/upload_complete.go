package web

import (
	"context"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"uploader/internal/upload"
)

type completeResponse struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// completeUpload handles POST /api/uploads/{id}/complete. It is idempotent:
// repeating it never queues a second job.
func (s *Server) completeUpload(w http.ResponseWriter, r *http.Request) error {
	u, err := s.ownUpload(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	status, err := s.complete(r.Context(), u)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, completeResponse{ID: u.ID, Status: string(status)})
	return nil
}

// complete checks that the object arrived as the policy allowed, moves the
// upload to processing and queues its job. If queuing fails the row stays
// processing, for the reconciler or a repeated complete to pick up.
func (s *Server) complete(ctx context.Context, u *upload.Upload) (upload.Status, error) {
	log := s.log.With("upload_id", u.ID)
	prof, err := s.profile(u.Profile)
	if err != nil {
		return "", err
	}
	switch u.Status {
	case upload.StatusReady:
		return u.Status, nil
	case upload.StatusProcessing:
		// A repeat: make sure a job exists (the task ID stops a second one).
		if err := s.jobs.EnqueueProcess(ctx, u.ID, prof); err != nil {
			return "", err
		}
		return u.Status, nil
	case upload.StatusFailed:
		if err := retryRefusal(u); err != nil {
			return "", err
		}
	}
	info, err := s.objects.Head(ctx, upload.IncomingKey(u.ID))
	if upload.ErrorCode(err) == upload.ENOTFOUND {
		if u.Status == upload.StatusFailed {
			return u.Status, nil
		}
		if s.now().After(u.ExpiresAt) {
			return "", upload.Errorf(upload.EEXPIRED, "The upload permission expired before a file arrived; start a new upload.")
		}
		return "", upload.Errorf(upload.ECONFLICT, "The file has not arrived in storage yet; upload it to the given URL first.")
	} else if err != nil {
		return "", err // the S3 adapter said whether it is an outage
	}
	// The policy already enforced these; checking again guards against a
	// policy signed with other limits, or an object written another way.
	if info.Size > prof.MaxBytes || info.Size <= 0 {
		return "", upload.Errorf(upload.ETOOLARGE, "The stored file is %s; the limit is %s.", humanBytes(info.Size), humanBytes(prof.MaxBytes))
	}
	if normalizeType(info.ContentType) != u.DeclaredType {
		return "", upload.Errorf(upload.ECONFLICT, "The stored file's type %q is not the declared %q.", info.ContentType, u.DeclaredType)
	}
	changed, err := s.store.MarkProcessing(ctx, u.ID, u.DeclaredType, info.Size)
	if err != nil {
		return "", err
	}
	if !changed {
		// Another complete (or the worker) got there first: answer with
		// what the row says now.
		now, err := s.store.Upload(ctx, u.ID)
		if err != nil {
			return "", err
		}
		if now.Status == upload.StatusFailed {
			if err := retryRefusal(now); err != nil {
				return "", err
			}
		}
		if now.Status != upload.StatusProcessing {
			return now.Status, nil
		}
	}
	if err := s.jobs.EnqueueProcess(ctx, u.ID, prof); err != nil {
		log.Warn("enqueue failed; the reconciler will retry", "err", err)
		return "", err
	}
	log.Info("upload complete; job queued", "bytes", info.Size)
	return upload.StatusProcessing, nil
}

// retryRefusal says why a failed upload may not be processed again, or
// returns nil when it may: a final failure would fail the same way, and a
// transient one gets upload.MaxAttempts runs in all.
func retryRefusal(u *upload.Upload) error {
	if !upload.Retryable(u.ErrorCode) {
		return upload.Errorf(upload.ECONFLICT, "This upload failed and trying again cannot change that: %s Upload a different file.",
			strings.TrimSpace(u.ErrorMessage))
	}
	if u.Attempts >= upload.MaxAttempts {
		return upload.Errorf(upload.ECONFLICT, "This upload failed %d times; upload the file again as a new upload.", u.Attempts)
	}
	return nil
}

// ownUpload loads an upload of the caller. Another owner's upload answers
// not found, exactly like a missing one, so IDs cannot be probed.
func (s *Server) ownUpload(ctx context.Context, id string) (*upload.Upload, error) {
	notFound := upload.Errorf(upload.ENOTFOUND, "Upload %s was not found.", id)
	if !upload.ValidID(id) {
		return nil, notFound
	}
	u, err := s.store.Upload(ctx, id)
	if upload.ErrorCode(err) == upload.ENOTFOUND {
		return nil, notFound
	} else if err != nil {
		return nil, err
	}
	if u.Owner != ownerOf(ctx).Owner {
		return nil, notFound
	}
	return u, nil
}
