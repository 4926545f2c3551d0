package web

import (
	"net/http"

	"uploader/internal/upload"
)

const galleryPageSize = 24

// gallery handles GET /uploads: the caller's uploads, newest first.
func (s *Server) gallery(w http.ResponseWriter, r *http.Request) error {
	cursor := r.URL.Query().Get("cursor")
	if cursor != "" && !upload.ValidID(cursor) {
		cursor = ""
	}
	us, err := s.listOwn(r.Context(), "", cursor, galleryPageSize+1)
	if err != nil {
		return err
	}
	page := galleryPage{layout: s.layout(r, "Your uploads")}
	if len(us) > galleryPageSize {
		us = us[:galleryPageSize]
		page.NextPage = "/uploads?cursor=" + us[len(us)-1].ID
	}
	for _, u := range us {
		page.Uploads = append(page.Uploads, s.toView(u))
	}
	return s.render(w, http.StatusOK, "gallery", page)
}
