package web

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"uploader/internal/s3store"
	"uploader/internal/upload"
)

// multipartResponse is the answer of POST /api/uploads for a file that
// goes up in parts, and of GET /api/uploads/{id}/parts.
type multipartResponse struct {
	ID        string        `json:"id"`
	Multipart multipartPlan `json:"multipart"`
	ExpiresAt time.Time     `json:"expires_at"` // when the upload can no longer be resumed
	StatusURL string        `json:"status_url"`
}

type multipartPlan struct {
	PartSize     int64      `json:"part_size"`
	Parts        []partPlan `json:"parts"`
	URLsExpireAt time.Time  `json:"urls_expire_at"` // GET parts again for fresh URLs after this
}

// partPlan is one part: a URL to PUT exactly Size bytes to and, for a part
// already stored, its ETag.
type partPlan struct {
	Number int    `json:"number"`
	URL    string `json:"url,omitempty"`
	Size   int64  `json:"size"`
	ETag   string `json:"etag,omitempty"`
}

// wantsMultipart says whether a new upload of size bytes goes up in parts:
// when the client asks (true), or, unless it refuses (false, a client that
// only POSTs), when the profile allows parts and the size passes the
// threshold.
func (s *Server) wantsMultipart(prof upload.Profile, size int64, ask *bool) (bool, error) {
	if ask != nil && !*ask {
		return false, nil
	}
	if ask == nil && (size <= s.cfg.MultipartThreshold || !prof.Multipart) {
		return false, nil
	}
	if !prof.Multipart {
		return false, upload.Errorf(upload.EINVALID, "The %q profile takes files in one request; leave out \"multipart\".", prof.Name)
	}
	if size > upload.PartSize(size)*upload.MaxParts {
		return false, upload.Errorf(upload.ETOOLARGE, "This file is %s; that is more than S3 takes in one upload.", humanBytes(size))
	}
	return true, nil
}

// createMultipart starts the S3 multipart upload of u and answers the plan
// of its parts with a presigned PUT for each.
func (s *Server) createMultipart(w http.ResponseWriter, r *http.Request, u *upload.Upload) error {
	ctx := r.Context()
	u.PartSize = upload.PartSize(u.DeclaredBytes)
	u.ExpiresAt = u.CreatedAt.Add(s.cfg.MultipartExpires)
	mid, err := s.objects.CreateMultipart(ctx, upload.IncomingKey(u.ID), u.DeclaredType)
	if err != nil {
		return upload.Errorf(upload.EUNAVAILABLE, "Could not prepare the upload; please retry in a moment.")
	}
	u.MultipartID = mid
	plan, err := s.partPlan(ctx, u, nil)
	if err != nil {
		s.objects.AbortMultipart(context.WithoutCancel(ctx), upload.IncomingKey(u.ID), mid)
		return err
	}
	if err := s.store.CreateUpload(ctx, u); err != nil {
		s.objects.AbortMultipart(context.WithoutCancel(ctx), upload.IncomingKey(u.ID), mid)
		return err
	}
	s.logger(r).Info("multipart upload started", "upload_id", u.ID, "declared_bytes", u.DeclaredBytes, "parts", len(plan.Parts))
	writeJSON(w, http.StatusCreated, multipartResponse{
		ID: u.ID, Multipart: plan, ExpiresAt: u.ExpiresAt.UTC(), StatusURL: "/api/uploads/" + u.ID,
	})
	return nil
}

// partPlan lists every part of u with a fresh presigned URL, and the ETag
// of those S3 already holds (from ListParts).
func (s *Server) partPlan(ctx context.Context, u *upload.Upload, stored []s3store.Part) (multipartPlan, error) {
	have := map[int]s3store.Part{}
	for _, p := range stored {
		have[p.Number] = p
	}
	expires := min(s.cfg.UploadExpires, time.Until(u.ExpiresAt))
	plan := multipartPlan{PartSize: u.PartSize, URLsExpireAt: s.now().Add(expires).UTC()}
	for _, spec := range upload.PlanParts(u.DeclaredBytes, u.PartSize) {
		url, err := s.objects.PresignPart(ctx, upload.IncomingKey(u.ID), u.MultipartID, spec.Number, spec.Size, expires)
		if err != nil {
			return plan, upload.Errorf(upload.EUNAVAILABLE, "Could not prepare the upload; please retry in a moment.")
		}
		pp := partPlan{Number: spec.Number, URL: url, Size: spec.Size}
		if p, ok := have[spec.Number]; ok && p.Size == spec.Size {
			// Stored: its ETag, and a URL too, for a client that cannot
			// vouch for what was stored (a PUT cut short by a reload can
			// leave a full-size part of the wrong bytes on some gateways).
			pp.ETag = p.ETag
		}
		plan.Parts = append(plan.Parts, pp)
	}
	return plan, nil
}

// uploadParts handles GET /api/uploads/{id}/parts: the parts S3 holds and
// fresh URLs for the rest, which is how a client resumes.
func (s *Server) uploadParts(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	u, err := s.ownUpload(ctx, chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	if err := resumable(u, s.now()); err != nil {
		return err
	}
	stored, err := s.objects.ListParts(ctx, upload.IncomingKey(u.ID), u.MultipartID)
	if upload.ErrorCode(err) == upload.ENOTFOUND {
		return upload.Errorf(upload.ECONFLICT, "The parts of upload %s are gone from storage (completed or aborted); start a new upload.", u.ID)
	} else if err != nil {
		return upload.Errorf(upload.EUNAVAILABLE, "Storage did not answer; please retry in a moment.")
	}
	plan, err := s.partPlan(ctx, u, stored)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, multipartResponse{
		ID: u.ID, Multipart: plan, ExpiresAt: u.ExpiresAt.UTC(), StatusURL: "/api/uploads/" + u.ID,
	})
	return nil
}

// resumable says why the parts of u can no longer be sent, if they can't.
func resumable(u *upload.Upload, now time.Time) error {
	switch {
	case u.MultipartID == "":
		return upload.Errorf(upload.ECONFLICT, "Upload %s is sent in one request; it has no parts.", u.ID)
	case u.Status != upload.StatusPending:
		return upload.Errorf(upload.ECONFLICT, "Upload %s is already complete (status %s).", u.ID, u.Status)
	case now.After(u.ExpiresAt):
		return upload.Errorf(upload.EEXPIRED, "Upload %s expired before its parts arrived; start a new upload.", u.ID)
	}
	return nil
}

// completedPart is one entry of the complete request's "parts".
type completedPart struct {
	Number int    `json:"number"`
	ETag   string `json:"etag"`
}

// finishMultipart checks the parts S3 holds against the plan and the
// client's list, then completes the multipart upload. It leaves the object
// at incoming/{id}, for complete to verify as it does a POSTed one.
func (s *Server) finishMultipart(ctx context.Context, u *upload.Upload, claimed []completedPart) error {
	if len(claimed) == 0 {
		return upload.Errorf(upload.EINVALID, `This upload went up in parts: send {"parts": [{"number": 1, "etag": "…"}, …]} with the ETag S3 answered for each part.`)
	}
	key := upload.IncomingKey(u.ID)
	stored, err := s.objects.ListParts(ctx, key, u.MultipartID)
	if upload.ErrorCode(err) == upload.ENOTFOUND {
		// Completed already (a lost answer, or the event got there first)
		// or aborted: the object tells which.
		return nil
	} else if err != nil {
		return upload.Errorf(upload.EUNAVAILABLE, "Storage did not answer; please retry in a moment.")
	}
	plan, err := checkParts(u, claimed, stored)
	if err != nil {
		return err
	}
	if err := s.objects.CompleteMultipart(ctx, key, u.MultipartID, plan); err != nil {
		if upload.ErrorCode(err) == upload.EINVALID || upload.ErrorCode(err) == upload.ENOTFOUND {
			return err
		}
		return upload.Errorf(upload.EUNAVAILABLE, "Storage did not answer; please retry in a moment.")
	}
	return nil
}

// checkParts compares the client's list and S3's with the plan: every part
// present, of its planned size, with the ETag S3 holds. It returns the
// parts to complete with, in order.
func checkParts(u *upload.Upload, claimed []completedPart, stored []s3store.Part) ([]s3store.Part, error) {
	specs := upload.PlanParts(u.DeclaredBytes, u.PartSize)
	byNum := map[int]string{}
	for _, c := range claimed {
		if c.Number < 1 || c.Number > len(specs) {
			return nil, upload.Errorf(upload.EINVALID, "Part %d does not exist: this upload has parts 1 to %d.", c.Number, len(specs))
		}
		if _, dup := byNum[c.Number]; dup {
			return nil, upload.Errorf(upload.EINVALID, "Part %d is listed twice.", c.Number)
		}
		byNum[c.Number] = c.ETag
	}
	have := map[int]s3store.Part{}
	for _, p := range stored {
		have[p.Number] = p
	}
	out := make([]s3store.Part, 0, len(specs))
	for _, spec := range specs {
		etag, ok := byNum[spec.Number]
		if !ok || strings.TrimSpace(etag) == "" {
			return nil, upload.Errorf(upload.EINVALID, "Part %d has no ETag: list every part with the ETag S3 answered for it.", spec.Number)
		}
		p, ok := have[spec.Number]
		if !ok {
			return nil, upload.Errorf(upload.ECONFLICT, "Part %d has not arrived in storage; PUT it (GET /api/uploads/%s/parts gives a fresh URL).", spec.Number, u.ID)
		}
		if p.Size != spec.Size {
			return nil, upload.Errorf(upload.ECONFLICT, "Part %d holds %d bytes; it must hold %d. PUT it again.", spec.Number, p.Size, spec.Size)
		}
		if unquote(etag) != unquote(p.ETag) {
			return nil, upload.Errorf(upload.EINVALID, "Part %d: ETag %s is not the one S3 gave for that part.", spec.Number, quoteETag(etag))
		}
		out = append(out, p)
	}
	return out, nil
}

func unquote(etag string) string { return strings.Trim(strings.TrimSpace(etag), `"`) }

// quoteETag shows an ETag the client sent, shortened so a hostile one
// cannot fill the error message.
func quoteETag(etag string) string {
	if len(etag) > 40 {
		etag = etag[:40] + "…"
	}
	return fmt.Sprintf("%q", etag)
}
