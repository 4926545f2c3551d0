package web

import "net/http"

type profileJSON struct {
	Name         string   `json:"name"`
	MaxBytes     int64    `json:"max_bytes"`
	AllowedTypes []string `json:"allowed_types"`
}

// listProfiles handles GET /api/profiles: the profiles the caller may
// upload to, with their limits, so a client (embed.js) can refuse a file
// before sending it, as the upload page does.
func (s *Server) listProfiles(w http.ResponseWriter, r *http.Request) error {
	id := ownerOf(r.Context())
	out := struct {
		Profiles []profileJSON `json:"profiles"`
	}{Profiles: []profileJSON{}}
	for _, name := range s.profiles.Names() {
		if !id.allows(name) {
			continue
		}
		p := s.profiles[name]
		out.Profiles = append(out.Profiles, profileJSON{Name: name, MaxBytes: p.MaxBytes, AllowedTypes: p.AllowedTypes})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
