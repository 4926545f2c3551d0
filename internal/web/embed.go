package web

import "net/http"

// embedScript handles GET /embed.js: upload.js and embed.js in one file,
// under a URL that never changes, so a host app can paste one script tag.
// It is cached briefly, since a new version is served at the same URL.
func (s *Server) embedScript(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("ETag", s.views.embedETag)
	if r.Header.Get("If-None-Match") == s.views.embedETag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Write(s.views.embedJS)
}
