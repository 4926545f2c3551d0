package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"uploader/internal/upload"
)

// Uppy (@uppy/aws-s3 v6) sends every S3 request itself and asks a
// signRequest callback to presign each one. The server keeps its checks by
// signing only what the upload it issued may do:
//   - keys are incoming/{id} of the caller's own pending upload, made by
//     POST /api/uppy/uploads with the file's declared name, type and size;
//   - a small file gets a POST policy (Uppy sends `fields` as a form), with
//     the same conditions as upload.js gets;
//   - a large one may create one multipart upload (Content-Type signed),
//     and each part is signed with its Content-Length from the declared
//     size, so S3 refuses a part of another size;
//   - CompleteMultipartUpload is signed only once ListParts shows every
//     part at its planned size; complete then checks the object's size.

type uppyUploadResponse struct {
	ID        string    `json:"id"`
	Key       string    `json:"key"`
	Multipart bool      `json:"multipart"`
	PartSize  int64     `json:"part_size,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
	StatusURL string    `json:"status_url"`
}

// uppyUpload handles POST /api/uppy/uploads: it checks the file as
// POST /api/uploads does and issues its key, without signing anything yet.
func (s *Server) uppyUpload(w http.ResponseWriter, r *http.Request) error {
	var req createRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	u, prof, err := s.newUpload(r.Context(), req)
	if err != nil {
		return err
	}
	mp, err := s.wantsMultipart(prof, req.Size, req.Multipart)
	if err != nil {
		return err
	}
	if mp {
		u.PartSize = upload.PartSize(req.Size)
		u.ExpiresAt = u.CreatedAt.Add(s.cfg.MultipartExpires)
	}
	if err := s.store.CreateUpload(r.Context(), u); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, uppyUploadResponse{
		ID: u.ID, Key: upload.IncomingKey(u.ID), Multipart: mp, PartSize: u.PartSize,
		ExpiresAt: u.ExpiresAt.UTC(), StatusURL: "/api/uploads/" + u.ID,
	})
	return nil
}

// uppySignRequest is Uppy's PresignableRequest.
type uppySignRequest struct {
	Method      string `json:"method"`
	Key         string `json:"key"`
	UploadID    string `json:"uploadId"`
	PartNumber  int    `json:"partNumber"`
	ContentType string `json:"contentType"`
}

// uppySigned is Uppy's PresignedResponse.
type uppySigned struct {
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// uppySign handles POST /api/uppy/sign, Uppy's signRequest.
func (s *Server) uppySign(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req uppySignRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	id, ok := strings.CutPrefix(req.Key, upload.IncomingPrefix)
	if !ok {
		return upload.Errorf(upload.EFORBIDDEN, "Only keys issued by POST /api/uppy/uploads can be signed.")
	}
	u, err := s.ownUpload(ctx, id)
	if err != nil {
		return err
	}
	switch {
	case u.Status != upload.StatusPending:
		return upload.Errorf(upload.ECONFLICT, "Upload %s is already complete (status %s).", u.ID, u.Status)
	case s.now().After(u.ExpiresAt):
		return upload.Errorf(upload.EEXPIRED, "Upload %s expired; start a new upload.", u.ID)
	}
	prof, err := s.profile(u.Profile)
	if err != nil {
		return err
	}
	key := upload.IncomingKey(u.ID)
	expires := min(s.cfg.UploadExpires, time.Until(u.ExpiresAt))
	multipart := u.PartSize > 0
	unavailable := upload.Errorf(upload.EUNAVAILABLE, "Could not sign the request; please retry in a moment.")

	if req.UploadID != "" {
		if !multipart {
			return upload.Errorf(upload.ECONFLICT, "Upload %s is sent in one request; it has no parts.", u.ID)
		}
		// The first request naming an upload ID binds it; others are refused.
		if err := s.store.BindMultipart(ctx, u.ID, req.UploadID); err != nil {
			if upload.ErrorCode(err) == upload.ECONFLICT {
				return upload.Errorf(upload.EFORBIDDEN, "That multipart upload is not the one of upload %s.", u.ID)
			}
			return err
		}
	}
	var out uppySigned
	switch {
	case req.Method == http.MethodPut && req.UploadID == "": // PutObject
		if multipart {
			return upload.Errorf(upload.ECONFLICT, "Upload %s goes up in parts; use multipart.", u.ID)
		}
		if ct := normalizeType(req.ContentType); req.ContentType != "" && ct != u.DeclaredType {
			return upload.Errorf(upload.ECONFLICT, "The file's type %q is not the declared %q.", req.ContentType, u.DeclaredType)
		}
		post, err := s.presign(ctx, u, prof, "")
		if err != nil {
			return err
		}
		out = uppySigned{URL: post.URL, Fields: post.FieldMap()}
	case req.Method == http.MethodPost && req.UploadID == "": // CreateMultipartUpload
		if !multipart {
			return upload.Errorf(upload.ECONFLICT, "Upload %s is sent in one request; do not use multipart.", u.ID)
		}
		if u.MultipartID != "" {
			return upload.Errorf(upload.ECONFLICT, "Upload %s already has its multipart upload.", u.ID)
		}
		sg, err := s.objects.PresignRequest(ctx, http.MethodPost, key, url.Values{"uploads": {""}},
			map[string]string{"Content-Type": u.DeclaredType}, expires)
		if err != nil {
			return unavailable
		}
		out = uppySigned{URL: sg.URL, Headers: sg.Headers}
	case req.Method == http.MethodPut: // UploadPart
		specs := upload.PlanParts(u.DeclaredBytes, u.PartSize)
		if req.PartNumber < 1 || req.PartNumber > len(specs) {
			return upload.Errorf(upload.EINVALID, "Part %d does not exist: this upload has parts 1 to %d of %d bytes.", req.PartNumber, len(specs), u.PartSize)
		}
		partURL, err := s.objects.PresignPart(ctx, key, req.UploadID, req.PartNumber, specs[req.PartNumber-1].Size, expires)
		if err != nil {
			return unavailable
		}
		out = uppySigned{URL: partURL}
	case req.Method == http.MethodGet: // ListParts
		sg, err := s.objects.PresignRequest(ctx, http.MethodGet, key, url.Values{"uploadId": {req.UploadID}}, nil, expires)
		if err != nil {
			return unavailable
		}
		out = uppySigned{URL: sg.URL}
	case req.Method == http.MethodPost: // CompleteMultipartUpload
		stored, err := s.objects.ListParts(ctx, key, req.UploadID)
		if err != nil {
			return upload.Errorf(upload.ECONFLICT, "The parts of upload %s are not in storage.", u.ID)
		}
		have := map[int]int64{}
		for _, p := range stored {
			have[p.Number] = p.Size
		}
		for _, spec := range upload.PlanParts(u.DeclaredBytes, u.PartSize) {
			if size, ok := have[spec.Number]; !ok || size != spec.Size {
				return upload.Errorf(upload.ECONFLICT, "Part %d has not arrived in storage at %d bytes; send it before completing.", spec.Number, spec.Size)
			}
		}
		sg, err := s.objects.PresignRequest(ctx, http.MethodPost, key, url.Values{"uploadId": {req.UploadID}}, nil, expires)
		if err != nil {
			return unavailable
		}
		out = uppySigned{URL: sg.URL}
	case req.Method == http.MethodDelete && req.UploadID != "": // AbortMultipartUpload
		sg, err := s.objects.PresignRequest(ctx, http.MethodDelete, key, url.Values{"uploadId": {req.UploadID}}, nil, expires)
		if err != nil {
			return unavailable
		}
		out = uppySigned{URL: sg.URL}
	default:
		return upload.Errorf(upload.EFORBIDDEN, "%s %s cannot be signed here.", strconv.Quote(req.Method), req.Key)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
