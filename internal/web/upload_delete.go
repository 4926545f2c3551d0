package web

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"

	"uploader/internal/upload"
)

// deleteUpload handles DELETE /api/uploads/{id}.
func (s *Server) deleteUpload(w http.ResponseWriter, r *http.Request) error {
	u, err := s.ownUpload(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	if err := s.remove(r.Context(), u); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// deleteUploadPage handles POST /uploads/{id}/delete from the upload page.
func (s *Server) deleteUploadPage(w http.ResponseWriter, r *http.Request) error {
	u, err := s.ownUpload(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	if err := s.remove(r.Context(), u); err != nil {
		return err
	}
	http.Redirect(w, r, "/uploads", http.StatusSeeOther)
	return nil
}

// remove deletes an upload's objects, then its row. Objects go first: a
// row without objects can be deleted again, objects without a row would
// be orphans.
func (s *Server) remove(ctx context.Context, u *upload.Upload) error {
	if err := s.objects.Delete(ctx, upload.IncomingKey(u.ID), upload.OriginalKey(u.ID)); err != nil {
		return err
	}
	if err := s.objects.DeletePrefix(ctx, upload.VariantDir(u.ID)); err != nil {
		return err
	}
	if err := s.store.DeleteUpload(ctx, u.ID); err != nil && upload.ErrorCode(err) != upload.ENOTFOUND {
		return err
	}
	s.log.Info("upload deleted", "upload_id", u.ID)
	// The objects are gone; edge caches may still hold them for up to a
	// year. A failed invalidation is logged, not a failed delete.
	if s.cdnCache != nil {
		if err := s.cdnCache.Invalidate(ctx, []string{s.cdn.Path(upload.VariantDir(u.ID))}); err != nil {
			s.log.Error("CDN invalidation failed; the variants stay cached at the edge", "upload_id", u.ID, "err", err)
		}
	}
	return nil
}
