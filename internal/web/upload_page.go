package web

import (
	"context"
	"crypto/hmac"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"uploader/internal/upload"
)

// showUploadPage handles GET /uploads/{id}.
func (s *Server) showUploadPage(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "id")
	u, err := s.ownUpload(r.Context(), id)
	if upload.ErrorCode(err) == upload.ENOTFOUND && upload.ValidID(id) {
		u, err = s.unrecordedPage(r.Context(), id)
	}
	if err != nil {
		return err
	}
	v := s.toView(u)
	return s.render(w, http.StatusOK, "upload", uploadPage{layout: s.layout(r, v.Filename), Upload: v, Refresh: !v.Done})
}

// unrecordedPage is what the upload page shows for the caller's upload
// that has no row yet (a single POST's row is made when its file arrives,
// upload_arrived.go): pending, from the object if the file is there, else
// from the issued ID, until its permission lapses. Anything else is not
// found, as GET /api/uploads/{id} answers.
func (s *Server) unrecordedPage(ctx context.Context, id string) (*upload.Upload, error) {
	found, err := s.findUnrecorded(ctx, id)
	if err != nil {
		return nil, err
	}
	if found.Arrived != nil {
		return found.Arrived, nil
	}
	ends := s.permissionEnds(found.IssuedAt)
	if s.now().After(ends) {
		return nil, upload.Errorf(upload.EEXPIRED, "The permission for upload %s lapsed at %s with no file; please upload it again.",
			id, ends.Format("15:04 UTC on 2 January"))
	}
	return &upload.Upload{ID: id, Status: upload.StatusPending, Filename: "Untitled image",
		CreatedAt: found.IssuedAt, UpdatedAt: found.IssuedAt, ExpiresAt: ends}, nil
}

// uploadedGrace is how long after its policy lapsed a no-JS redirect link
// still works. S3 checks the policy's expiry when the POST starts, and a
// large file on a slow line can take a long time to arrive after that.
const uploadedGrace = time.Hour

// uploaded handles GET /uploads/{id}/uploaded, where S3 redirects a form
// posted without JavaScript. The signature proves the index page issued
// this ID to this visitor; the row is made now from the object (unless
// the bucket's event made it first), then completed.
func (s *Server) uploaded(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "id")
	q := r.URL.Query()
	who := ownerOf(r.Context())
	exp, _ := strconv.ParseInt(q.Get("exp"), 10, 64)
	want := s.sign(uploadedClaim(id, who.claimOwner(), q.Get("profile"), exp))
	if !upload.ValidID(id) || !hmac.Equal([]byte(want), []byte(q.Get("sig"))) {
		return upload.Errorf(upload.ENOTFOUND, "This upload link is not valid for you.")
	}
	if lapsed := time.Unix(exp, 0).Add(uploadedGrace); s.now().After(lapsed) {
		return upload.Errorf(upload.EEXPIRED, "This upload link expired at %s; please go back and upload the file again.",
			lapsed.UTC().Format("15:04 UTC on 2 January"))
	}
	prof, err := s.profileFor(r.Context(), q.Get("profile"))
	if err != nil {
		return err
	}
	u, err := s.store.Upload(r.Context(), id)
	if upload.ErrorCode(err) == upload.ENOTFOUND {
		obj, ferr := s.fromObject(r.Context(), id)
		if upload.ErrorCode(ferr) == upload.ENOTFOUND {
			return upload.Errorf(upload.ECONFLICT, "The file has not arrived in storage; please upload it again.")
		} else if ferr != nil {
			return ferr
		}
		if !who.sees(obj) || obj.Profile != prof.Name {
			return upload.Errorf(upload.ENOTFOUND, "Upload %s was not found.", id)
		}
		u, err = s.record(r.Context(), obj)
	}
	if err != nil {
		return err
	} else if !who.sees(u) {
		return upload.Errorf(upload.ENOTFOUND, "Upload %s was not found.", id)
	}
	if _, err := s.complete(r.Context(), u); err != nil {
		return err
	}
	http.Redirect(w, r, "/uploads/"+id, http.StatusSeeOther)
	return nil
}
