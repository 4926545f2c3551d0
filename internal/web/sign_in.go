package web

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"uploader/internal/upload"
)

// signIn handles GET /sign-in/{secret}: the first visit gives the browser a
// session as the link's user and goes on to the upload page; any later
// visit, an expired link or a mangled one shows why nobody was signed in.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Referrer-Policy", "no-referrer") // the path is a secret
	link, err := s.sessions.UseSignInLink(r.Context(), secretHash(chi.URLParam(r, "secret")))
	if err != nil {
		return err
	}
	secret := newSecret(browserPrefix)
	now := s.now()
	sess := &upload.Session{
		Kind: upload.SessionBrowser, Owner: link.Owner, User: link.User, Profiles: link.Profiles,
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.SessionTTL),
	}
	if err := s.sessions.CreateSession(r.Context(), secretHash(secret), sess); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: secret, Path: "/",
		MaxAge: int(s.cfg.SessionTTL / time.Second), HttpOnly: true,
		Secure: s.cfg.SecureCookies || s.cfg.Production, SameSite: http.SameSiteLaxMode,
	})
	s.logger(r).Info("signed in", "owner", link.Owner, "user", link.User)
	http.Redirect(w, r, "/", http.StatusSeeOther)
	return nil
}

// signOut handles POST /sign-out: the session ends on the server too, so a
// copied cookie is worth nothing afterwards.
func (s *Server) signOut(w http.ResponseWriter, r *http.Request) error {
	if id := ownerOf(r.Context()); id.Session != "" {
		if err := s.sessions.DeleteSession(r.Context(), id.Session); err != nil {
			return err
		}
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: s.cfg.SecureCookies || s.cfg.Production, SameSite: http.SameSiteLaxMode,
	})
	return s.render(w, http.StatusOK, "message", messagePage{
		layout:  layout{Title: "Signed out", CSSURL: s.views.urls["app.css"], JSURL: s.views.urls["upload.js"]},
		Message: "You are signed out. To upload again, open a new sign-in link.",
	})
}
