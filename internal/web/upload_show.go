package web

import (
	"context"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"uploader/internal/upload"
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

// listUploads handles GET /api/uploads?limit=&cursor=&user=: the caller's
// uploads, newest first; an owner may ask for one user's.
func (s *Server) listUploads(w http.ResponseWriter, r *http.Request) error {
	limit, err := strconv.Atoi(r.URL.Query().Get("limit"))
	switch {
	case err != nil || limit <= 0:
		limit = 20
	case limit > 100:
		limit = 100
	}
	us, err := s.listOwn(r.Context(), r.URL.Query().Get("user"), r.URL.Query().Get("cursor"), limit+1)
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

// listOwn lists what the caller may see: a user their own uploads, an owner
// all of its users' or, given user, that user's.
func (s *Server) listOwn(ctx context.Context, user, cursor string, limit int) ([]*upload.Upload, error) {
	id := ownerOf(ctx)
	if id.User != "" {
		user = id.User
	}
	if user == "" {
		return s.store.ListUploads(ctx, id.Owner, cursor, limit)
	}
	return s.store.ListUserUploads(ctx, id.Owner, user, cursor, limit)
}
