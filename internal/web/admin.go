package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
)

// adminOnly guards the admin surface with HTTP basic authentication. It
// compares hashes in constant time, so neither the length nor the content
// of the password leaks through timing.
func (s *Server) adminOnly(next http.Handler) http.Handler {
	wantUser := sha256.Sum256([]byte(s.cfg.AdminUser))
	wantPass := sha256.Sum256([]byte(s.cfg.AdminPassword))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		u, p := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))
		if !ok || subtle.ConstantTimeCompare(u[:], wantUser[:])&subtle.ConstantTimeCompare(p[:], wantPass[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="uploader admin", charset="UTF-8"`)
			http.Error(w, "Admin credentials required.", http.StatusUnauthorized)
			return
		}
		// asynqmon's single-page app needs its own, looser policy.
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline' https:; img-src 'self' data:; font-src 'self' https: data:; frame-ancestors 'none'")
		next.ServeHTTP(w, r)
	})
}
