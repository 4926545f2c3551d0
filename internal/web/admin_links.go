package web

import (
	"net/http"

	"uploader/internal/upload"
)

// adminOwner owns the users of links minted on the admin page: the
// deployment's own people, where no host app has users of its own.
const adminOwner = "admin"

var linkDurations = []string{"15m", "1h", "24h", "168h"}

// adminHome handles GET /admin: the form that mints sign-in links.
func (s *Server) adminHome(w http.ResponseWriter, r *http.Request) error {
	return s.renderAdmin(w, r, http.StatusOK, adminPage{ExpiresIn: "24h", Checked: map[string]bool{}})
}

// adminMintLink handles POST /admin/sign-in-links, a form post (under the
// cross-origin protection, since the browser resends basic credentials on
// its own): the same link POST /api/sessions makes.
func (s *Server) adminMintLink(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		return upload.Errorf(upload.EINVALID, "The form could not be read; please send it again.")
	}
	req := sessionRequest{User: r.PostForm.Get("user"), Profiles: r.PostForm["profiles"], ExpiresIn: r.PostForm.Get("expires_in")}
	page := adminPage{User: req.User, ExpiresIn: req.ExpiresIn, Checked: map[string]bool{}}
	for _, p := range req.Profiles {
		page.Checked[p] = true
	}
	link, err := s.mintSession(r.Context(), adminOwner, req)
	if c := upload.ErrorCode(err); c == upload.EINVALID {
		page.Error = upload.ErrorMessage(err)
		return s.renderAdmin(w, r, http.StatusBadRequest, page)
	} else if err != nil {
		return err
	}
	page.Link = link
	return s.renderAdmin(w, r, http.StatusCreated, page)
}

func (s *Server) renderAdmin(w http.ResponseWriter, r *http.Request, status int, page adminPage) error {
	// adminOnly loosens the policy for asynqmon's pages; this one needs none of it.
	w.Header().Set("Content-Security-Policy", s.csp)
	page.layout = s.layout(r, "Admin")
	page.Profiles = s.profiles.Names()
	page.Durations = linkDurations
	return s.render(w, status, "admin", page)
}
