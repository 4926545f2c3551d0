package web

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"uploader/internal/upload"
)

// showUpload handles GET /api/uploads/{id}.
func (s *Server) showUpload(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "id")
	u, err := s.ownUpload(r.Context(), id)
	if upload.ErrorCode(err) == upload.ENOTFOUND && upload.ValidID(id) {
		return s.showUnrecorded(w, r, id)
	} else if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.toJSON(u))
	return nil
}

type unrecordedJSON struct {
	ID        string    `json:"id"`
	Status    string    `json:"status"`
	ExpiresAt time.Time `json:"expires_at"`
}

// showUnrecorded answers for the caller's upload that has no row: its ID
// was issued to the caller (the MAC says so) and its file has not arrived,
// or has arrived and is not recorded yet. An ID nobody issued to the
// caller is not found, as before.
func (s *Server) showUnrecorded(w http.ResponseWriter, r *http.Request, id string) error {
	j, err := s.unrecordedStatus(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, j)
	return nil
}

func (s *Server) unrecordedStatus(ctx context.Context, id string) (unrecordedJSON, error) {
	un, err := s.findUnrecorded(ctx, id)
	if err != nil {
		return unrecordedJSON{}, err
	}
	issued := un.IssuedAt
	if issued.IsZero() {
		issued = upload.IDTime(id)
	}
	j := unrecordedJSON{ID: id, Status: string(upload.StatusAwaitingUpload), ExpiresAt: s.permissionEnds(issued)}
	switch {
	case un.Arrived != nil:
		j.Status = string(upload.StatusArrived)
	case s.now().After(j.ExpiresAt):
		j.Status = string(upload.StatusExpired)
	}
	return j, nil
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
