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
	r.Use(s.bodyDeadline, requestID, s.requestLog, middleware.Recoverer, s.securityHeaders, s.cors)

	r.Get("/healthz", s.healthz)
	r.Get("/static/*", s.serveStatic)
	r.Get("/favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	r.Get("/embed.js", s.embedScript)
	if s.sessions != nil {
		r.With(s.limitByIP, apiDeadline(15*time.Second)).Get("/sign-in/{secret}", s.page(s.signIn))
		r.With(s.crossOrigin, s.authenticate, apiDeadline(15*time.Second)).Post("/sign-out", s.page(s.signOut))
	}
	if s.cfg.ServeCDN {
		r.Get("/cdn/*", s.cdnObject)
	}

	// The bucket's event notifications: authenticated by SNS signature or
	// the embedded gateway's secret, not by a session or token.
	r.With(apiDeadline(15*time.Second)).Post("/api/s3-events", s.api(s.s3Events))

	r.Group(func(r chi.Router) {
		// Cookie-authenticated requests (not bearer ones) must come from our own origin.
		r.Use(s.crossOrigin)

		r.With(s.authenticate, s.requireOwner).Get("/uploads/{id}/events", s.api(s.uploadEvents)) // a stream: no deadline

		r.Group(func(r chi.Router) {
			// authenticate and apiDeadline(15 s) in one, the session
			// lookup under the deadline too.
			r.Use(s.authenticateWithin(15*time.Second), s.requireOwner)

			r.With(s.limitByIP).Get("/", s.page(s.index))
			r.Get("/uploads", s.page(s.gallery))
			r.Get("/uploads/{id}", s.page(s.showUploadPage))
			r.With(s.limitPresign).Get("/uploads/{id}/uploaded", s.page(s.uploaded))
			r.Post("/uploads/{id}/delete", s.page(s.deleteUploadPage))

			r.With(s.limitPresign).Post("/api/uploads", s.api(s.createUpload))
			r.Get("/api/uploads", s.api(s.listUploads))
			r.Get("/api/profiles", s.api(s.listProfiles))
			r.Get("/api/uploads/{id}", s.api(s.showUpload))
			r.Post("/api/uploads/{id}/complete", s.api(s.completeUpload))
			r.With(s.limitPresign).Get("/api/uploads/{id}/parts", s.api(s.uploadParts))
			r.With(s.limitPresign).Post("/api/uppy/uploads", s.api(s.uppyUpload))
			r.Post("/api/uppy/sign", s.api(s.uppySign)) // one call per S3 request: not counted as presigns
			r.Delete("/api/uploads/{id}", s.api(s.deleteUpload))
			if s.sessions != nil {
				r.With(ownerOnly, s.limitByIP).Post("/api/sessions", s.api(s.createSession))
				r.With(ownerOnly).Delete("/api/sessions/{user}", s.api(s.revokeSessions))
			}
		})
	})
	if s.cfg.AdminUser != "" && s.sessions != nil {
		r.Group(func(r chi.Router) {
			r.Use(s.adminOnly, apiDeadline(15*time.Second))
			r.Get("/admin", s.page(s.adminHome))
			r.With(sameOrigin, s.limitByIP).Post("/admin/sign-in-links", s.page(s.adminMintLink))
		})
	}
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
