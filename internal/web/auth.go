package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"

	"uploader/internal/upload"
)

const sessionCookie = "uploader_session"

type ctxKey int

const (
	ownerKey ctxKey = iota
)

// identity is who is asking: an API token's owner or a browser session's.
type identity struct {
	Owner string
	// Anonymous is a browser session anyone can make: a client that drops
	// its cookie becomes a new owner on every request.
	Anonymous bool
}

func ownerOf(ctx context.Context) identity {
	id, _ := ctx.Value(ownerKey).(identity)
	return id
}

// authenticate finds the caller. A valid bearer token wins; otherwise a
// signed session cookie; otherwise, when anonymous use is allowed and the
// request is a page view, a new session is issued.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := r.Header.Get("Authorization"); h != "" {
			tok, ok := strings.CutPrefix(h, "Bearer ")
			if !ok {
				s.errorJSON(w, r, upload.Errorf(upload.EUNAUTHORIZED, "Use Authorization: Bearer <token>."))
				return
			}
			owner, ok := s.tokens[sha256.Sum256([]byte(strings.TrimSpace(tok)))]
			if !ok {
				s.errorJSON(w, r, upload.Errorf(upload.EUNAUTHORIZED, "The API token is not valid."))
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ownerKey, identity{Owner: owner})))
			return
		}
		if s.cfg.AllowAnonymous {
			owner, ok := s.readSession(r)
			if !ok {
				owner = s.newSession(w)
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ownerKey, identity{Owner: owner, Anonymous: true})))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requireOwner refuses requests without an identity.
func (s *Server) requireOwner(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ownerOf(r.Context()).Owner == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="uploader"`)
			err := upload.Errorf(upload.EUNAUTHORIZED, "This service needs an API token: send Authorization: Bearer <token>.")
			if strings.HasPrefix(r.URL.Path, "/api/") {
				s.errorJSON(w, r, err)
			} else {
				s.errorPage(w, r, err)
			}
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) sign(v string) string {
	m := hmac.New(sha256.New, s.cfg.SessionSecret)
	m.Write([]byte(v))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Server) readSession(r *http.Request) (string, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return "", false
	}
	owner, mac, ok := strings.Cut(c.Value, ".")
	if !ok || !strings.HasPrefix(owner, "s_") || !hmac.Equal([]byte(mac), []byte(s.sign(owner))) {
		return "", false
	}
	return owner, true
}

func (s *Server) newSession(w http.ResponseWriter) string {
	var b [16]byte
	rand.Read(b[:])
	owner := "s_" + base64.RawURLEncoding.EncodeToString(b[:])
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    owner + "." + s.sign(owner),
		Path:     "/",
		MaxAge:   365 * 24 * 3600,
		HttpOnly: true,
		Secure:   s.cfg.SecureCookies,
		SameSite: http.SameSiteLaxMode,
	})
	return owner
}
