package web

import (
	"net/http"
	"strings"

	"uploader/internal/upload"
)

// cors answers cross-origin requests to the JSON API from the origins in
// ALLOWED_ORIGINS, and only those: the host apps whose pages run embed.js.
// Credentials (cookies) are never allowed cross-origin; embed.js sends its
// token in the Authorization header instead.
func (s *Server) cors(next http.Handler) http.Handler {
	allowed := map[string]bool{}
	for _, o := range s.cfg.AllowedOrigins {
		allowed[o] = true
	}
	varyOrigin := []string{"Origin"} // shared, as in securityHeaders
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/") {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		if len(h["Vary"]) == 0 {
			h["Vary"] = varyOrigin
		} else {
			h.Add("Vary", "Origin")
		}
		origin := r.Header.Get("Origin")
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		if origin == "" || !allowed[origin] {
			if preflight {
				// No CORS headers: the browser refuses the request. The
				// sentence is for whoever looks at the network panel.
				writeJSON(w, http.StatusForbidden, errorBody{errorDetail{upload.EFORBIDDEN,
					"The origin " + origin + " may not call this API; add it to ALLOWED_ORIGINS."}})
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Expose-Headers", "Retry-After")
		if preflight {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			h.Set("Access-Control-Allow-Methods", "GET, POST, DELETE")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}
