package web

import (
	"context"
	"net/http"
	"time"
)

type healthResponse struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// healthz handles GET /healthz: 200 when every dependency answers, 503
// when one does not, with each part "ok" or "down", e.g.
// {"status":"unavailable","checks":{"database":"down","redis":"ok","s3":"ok"}}.
// The answer is public, so it never carries an error's text (which may
// name hosts, users or buckets); the cause goes to the log.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	resp := healthResponse{Status: "ok", Checks: map[string]string{}}
	status := http.StatusOK
	for name, p := range s.health {
		if err := p.Ping(ctx); err != nil {
			s.logger(r).Warn("health check failed", "part", name, "err", err)
			resp.Checks[name] = "down"
			resp.Status, status = "unavailable", http.StatusServiceUnavailable
			continue
		}
		resp.Checks[name] = "ok"
	}
	retryAfter(w, status)
	writeJSON(w, status, resp)
}
