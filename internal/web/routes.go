package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"uploader/internal/upload"
)

// Handler returns the whole route table.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.RequestID, middleware.RealIP, s.requestLog, middleware.Recoverer, s.securityHeaders)

	r.Get("/healthz", s.healthz)
	r.Get("/static/*", s.serveStatic)
	r.Get("/favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	if s.cfg.ServeCDN {
		r.Get("/cdn/*", s.cdnObject)
	}

	// The bucket's event notifications: authenticated by SNS signature or
	// the embedded gateway's secret, not by a session or token.
	r.With(apiDeadline(15*time.Second)).Post("/api/s3-events", s.api(s.s3Events))

	r.Group(func(r chi.Router) {
		// Cookie-authenticated state changes must come from our own origin.
		r.Use(http.NewCrossOriginProtection().Handler, s.authenticate, s.requireOwner)

		r.Get("/uploads/{id}/events", s.api(s.uploadEvents)) // a stream: no deadline

		r.Group(func(r chi.Router) {
			r.Use(apiDeadline(15 * time.Second))

			r.Get("/", s.page(s.index))
			r.Get("/uploads", s.page(s.gallery))
			r.Get("/uploads/{id}", s.page(s.showUploadPage))
			r.Get("/uploads/{id}/uploaded", s.page(s.uploaded))
			r.Post("/uploads/{id}/delete", s.page(s.deleteUploadPage))

			r.With(s.limitPresign).Post("/api/uploads", s.api(s.createUpload))
			r.Get("/api/uploads", s.api(s.listUploads))
			r.Get("/api/uploads/{id}", s.api(s.showUpload))
			r.Post("/api/uploads/{id}/complete", s.api(s.completeUpload))
			r.With(s.limitPresign).Get("/api/uploads/{id}/parts", s.api(s.uploadParts))
			r.With(s.limitPresign).Post("/api/uppy/uploads", s.api(s.uppyUpload))
			r.Post("/api/uppy/sign", s.api(s.uppySign)) // one call per S3 request: not counted as presigns
			r.Delete("/api/uploads/{id}", s.api(s.deleteUpload))
		})
	})
	if s.admin != nil {
		r.With(s.adminOnly).Handle("/admin/queues*", s.admin)
	}
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		err := upload.Errorf(upload.ENOTFOUND, "There is no page at %s.", r.URL.Path)
		if strings.HasPrefix(r.URL.Path, "/api/") {
			s.errorJSON(w, r, err)
			return
		}
		s.errorPage(w, r, err)
	})
	return r
}
