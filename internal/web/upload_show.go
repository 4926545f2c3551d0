package web

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"
)

// showUpload handles GET /api/uploads/{id}.
func (s *Server) showUpload(w http.ResponseWriter, r *http.Request) error {
	u, err := s.ownUpload(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.toJSON(u))
	return nil
}

type listResponse struct {
	Uploads    []uploadJSON `json:"uploads"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

// listUploads handles GET /api/uploads?limit=&cursor=: the caller's uploads,
// newest first.
func (s *Server) listUploads(w http.ResponseWriter, r *http.Request) error {
	limit, err := strconv.Atoi(r.URL.Query().Get("limit"))
	switch {
	case err != nil || limit <= 0:
		limit = 20
	case limit > 100:
		limit = 100
	}
	us, err := s.store.ListUploads(r.Context(), ownerOf(r.Context()).Owner, r.URL.Query().Get("cursor"), limit+1)
	if err != nil {
		return err
	}
	resp := listResponse{Uploads: []uploadJSON{}}
	if len(us) > limit {
		us = us[:limit]
		resp.NextCursor = us[limit-1].ID
	}
	for _, u := range us {
		resp.Uploads = append(resp.Uploads, s.toJSON(u))
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}
