package web

import (
	"net/http"
	"path"
	"strings"

	"uploader/internal/upload"
)

// cdnObject handles GET /cdn/variants/... in development: a stand-in for
// CloudFront that serves published variants, and nothing else, with the
// headers CloudFront would pass on.
func (s *Server) cdnObject(w http.ResponseWriter, r *http.Request) {
	key := strings.TrimPrefix(r.URL.Path, "/cdn/")
	if !strings.HasPrefix(key, upload.VariantPrefix) || path.Clean(key) != key {
		http.NotFound(w, r)
		return
	}
	data, err := s.objects.Get(r.Context(), key, 64<<20)
	if err != nil {
		if upload.ErrorCode(err) == upload.ENOTFOUND {
			http.NotFound(w, r)
			return
		}
		s.logger(r).Error("cdn get", "key", key, "err", err)
		http.Error(w, "storage unavailable", http.StatusBadGateway)
		return
	}
	ct := map[string]string{".jpg": "image/jpeg", ".png": "image/png", ".webp": "image/webp", ".gif": "image/gif", ".avif": "image/avif"}[path.Ext(key)]
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Write(data)
}
