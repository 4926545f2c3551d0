package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
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
// repeating it never queues a second job. An upload sent in one POST gets
// its row here, from its object, unless something else made it first.
func (s *Server) completeUpload(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "id")
	u, err := s.ownUpload(r.Context(), id)
	if upload.ErrorCode(err) == upload.ENOTFOUND && upload.ValidID(id) {
		u, err = s.recordOwn(r.Context(), id)
	}
	if err != nil {
		return err
	}
	if err := s.completeParts(r, u); err != nil {
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
	if (u.MultipartID != "" || u.PartSize > 0) && info.Size != u.DeclaredBytes {
		return "", upload.Errorf(upload.ECONFLICT, "The stored file is %d bytes; %d were declared.", info.Size, u.DeclaredBytes)
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

// recordOwn makes the row of the caller's upload id, which has none, from
// its object; an upload that has not arrived is a conflict, or expired.
func (s *Server) recordOwn(ctx context.Context, id string) (*upload.Upload, error) {
	un, err := s.findUnrecorded(ctx, id)
	if err != nil {
		return nil, err
	}
	if un.Arrived == nil {
		if s.now().After(s.permissionEnds(un.IssuedAt)) {
			return nil, upload.Errorf(upload.EEXPIRED, "The upload permission expired before a file arrived; start a new upload.")
		}
		return nil, upload.Errorf(upload.ECONFLICT, "The file has not arrived in storage yet; upload it to the given URL first.")
	}
	return s.record(ctx, un.Arrived)
}

// completeParts completes the S3 multipart upload of u, when u went up in
// parts and its object is not there yet, from the request's "parts".
func (s *Server) completeParts(r *http.Request, u *upload.Upload) error {
	if u.MultipartID == "" || (u.Status != upload.StatusPending && u.Status != upload.StatusFailed) {
		return nil
	}
	var req struct {
		Parts []completedPart `json:"parts"`
	}
	if err := decodeOptionalJSON(r, &req); err != nil {
		return err
	}
	_, err := s.objects.Head(r.Context(), upload.IncomingKey(u.ID))
	switch {
	case err == nil:
		return nil // completed before: complete verifies it
	case upload.ErrorCode(err) != upload.ENOTFOUND:
		return upload.Errorf(upload.EUNAVAILABLE, "Storage did not answer; please retry in a moment.")
	}
	return s.finishMultipart(r.Context(), u, req.Parts)
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
	if !ownerOf(ctx).sees(u) {
		return nil, notFound
	}
	return u, nil
}

// decodeOptionalJSON is decodeJSON for a body that may be empty. The part
// list of a 10,000-part upload is about 600 KB, hence the larger limit.
func decodeOptionalJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return upload.Errorf(upload.EINVALID, "The request body is not valid JSON: %v", err)
	}
	return nil
}
