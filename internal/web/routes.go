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
	// Cookie- and basic-auth-authenticated state changes must come from our
	// own origin: a browser sends cached credentials along with a form
	// another site posts.
	sameOrigin := http.NewCrossOriginProtection().Handler
	r.Use(s.bodyDeadline, middleware.RequestID, s.requestLog, middleware.Recoverer, s.securityHeaders)

	r.Get("/healthz", s.healthz)
	r.Get("/static/*", s.serveStatic)
	r.Get("/favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	if s.cfg.ServeCDN {
		r.Get("/cdn/*", s.cdnObject)
	}

	r.Group(func(r chi.Router) {
		r.Use(sameOrigin, s.authenticate, s.requireOwner)

		r.Get("/uploads/{id}/events", s.api(s.uploadEvents)) // a stream: no deadline

		r.Group(func(r chi.Router) {
			r.Use(apiDeadline(15 * time.Second))

			r.With(s.limitByIP).Get("/", s.page(s.index))
			r.Get("/uploads", s.page(s.gallery))
			r.Get("/uploads/{id}", s.page(s.showUploadPage))
			r.With(s.limitPresign).Get("/uploads/{id}/uploaded", s.page(s.uploaded))
			r.Post("/uploads/{id}/delete", s.page(s.deleteUploadPage))

			r.With(s.limitPresign).Post("/api/uploads", s.api(s.createUpload))
			r.Get("/api/uploads", s.api(s.listUploads))
			r.Get("/api/uploads/{id}", s.api(s.showUpload))
			r.Post("/api/uploads/{id}/complete", s.api(s.completeUpload))
			r.Delete("/api/uploads/{id}", s.api(s.deleteUpload))
		})
	})
	if s.admin != nil {
		r.With(sameOrigin, s.adminOnly).Handle("/admin/queues*", s.admin)
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
