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
// naming the ones that do not.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	resp := healthResponse{Status: "ok", Checks: map[string]string{}}
	status := http.StatusOK
	for name, p := range s.health {
		if err := p.Ping(ctx); err != nil {
			resp.Checks[name] = "error: " + err.Error()
			resp.Status, status = "unavailable", http.StatusServiceUnavailable
			continue
		}
		resp.Checks[name] = "ok"
	}
	writeJSON(w, status, resp)
}
