package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"uploader/internal/upload"
)

// uploadEvents handles GET /uploads/{id}/events: a Server-Sent Events stream
// that sends the upload's JSON whenever it changes and ends once it is
// ready or failed. Clients fall back to polling the JSON when it breaks.
func (s *Server) uploadEvents(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "id")
	u, err := s.ownUpload(r.Context(), id)
	if err != nil {
		return err
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		return fmt.Errorf("web: streaming unsupported")
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	ctx := r.Context()
	deadline := time.NewTimer(5 * time.Minute) // the client reconnects after this
	defer deadline.Stop()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var last []byte
	for {
		body, _ := json.Marshal(s.toJSON(u))
		if string(body) != string(last) {
			if _, err := fmt.Fprintf(w, "event: status\ndata: %s\n\n", body); err != nil {
				return nil
			}
			flusher.Flush()
			last = body
		}
		if u.Status == upload.StatusReady || u.Status == upload.StatusFailed {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.closing:
			return nil // the browser reconnects to another process, or polls
		case <-deadline.C:
			return nil
		case <-tick.C:
		}
		if u, err = s.store.Upload(ctx, id); err != nil {
			fmt.Fprintf(w, "event: error\ndata: {}\n\n")
			return nil
		}
	}
}
