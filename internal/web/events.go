package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"uploader/internal/upload"
)

// How often a stream reads its row without being told of a change: the
// safety net for a lost pub/sub message, or the only way without Redis.
const (
	streamFallback = 3 * time.Second
	streamPoll     = 250 * time.Millisecond // no StatusWatcher at all
	streamPing     = 25 * time.Second       // a comment line, so proxies keep an idle stream open
)

// uploadEvents handles GET /uploads/{id}/events: a Server-Sent Events stream
// that sends the upload's JSON whenever it changes and ends once it is
// ready or failed. Clients fall back to polling the JSON when it breaks,
// or when they hold too many streams already (429). An upload without a
// row yet streams what GET answers for it (awaiting_upload, arrived,
// expired) until its row is made.
func (s *Server) uploadEvents(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "id")
	owner := ownerOf(r.Context()).claimOwner() // each signed-in user their own
	release, full := s.streams.enter(owner, ipKey(s.proxies.clientIP(r)))
	if release == nil {
		w.Header().Set("Retry-After", strconv.Itoa(int(streamFallback/time.Second)))
		limit := s.streams.perOwner
		if full == "address" {
			limit = s.streams.perIP
		}
		writeJSON(w, http.StatusTooManyRequests, errorBody{errorDetail{upload.ERATELIMIT, fmt.Sprintf(
			"Too many status streams open from your %s (at most %d); poll %s instead.", full, limit, "/api/uploads/"+id)}})
		return nil
	}
	defer release()
	// Subscribe before the first read, so no change falls between them.
	changed, unsubscribe := s.watch(id)
	defer unsubscribe()
	u, err := s.ownUpload(r.Context(), id)
	var un unrecordedJSON
	if upload.ErrorCode(err) == upload.ENOTFOUND && upload.ValidID(id) {
		u = nil
		if un, err = s.unrecordedStatus(r.Context(), id); err != nil {
			return err
		}
	} else if err != nil {
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
	every := streamFallback
	if s.status == nil {
		every = streamPoll
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	ping := time.NewTicker(streamPing)
	defer ping.Stop()
	var last []byte
	for {
		var body []byte
		if u != nil {
			body, _ = json.Marshal(s.toJSON(u))
		} else {
			body, _ = json.Marshal(un)
		}
		if string(body) != string(last) {
			if _, err := fmt.Fprintf(w, "event: status\ndata: %s\n\n", body); err != nil {
				return nil
			}
			flusher.Flush()
			last = body
		}
		if u != nil && (u.Status == upload.StatusReady || u.Status == upload.StatusFailed) ||
			u == nil && un.Status == string(upload.StatusExpired) {
			return nil
		}
	wait:
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-s.closing:
				return nil // the browser reconnects to another process, or polls
			case <-deadline.C:
				return nil
			case <-ping.C:
				if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
					return nil
				}
				flusher.Flush()
			case <-changed:
				break wait
			case <-tick.C:
				break wait
			}
		}
		recorded := u != nil
		u, err = s.store.Upload(ctx, id)
		if upload.ErrorCode(err) == upload.ENOTFOUND && !recorded {
			un, err = s.unrecordedStatus(ctx, id)
		} else if err == nil && !ownerOf(ctx).sees(u) {
			err = upload.Errorf(upload.ENOTFOUND, "Upload %s was not found.", id)
		}
		if err != nil {
			fmt.Fprintf(w, "event: error\ndata: {}\n\n")
			return nil
		}
	}
}
