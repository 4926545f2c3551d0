package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"uploader/internal/upload"
)

const sessionCookie = "uploader_session"

// Prefixes of the secrets this server hands out, so a secret says what it
// is before any lookup: a signed-in browser's cookie, an embed token.
const (
	browserPrefix = "u_"
	embedPrefix   = "ue_"
)

type ctxKey int

const (
	ownerKey ctxKey = iota
)

// The ways a caller can be known.
const (
	viaToken     = "token"     // an API token of API_TOKENS: the owner itself
	viaBrowser   = "browser"   // a browser signed in through a sign-in link
	viaEmbed     = "embed"     // an embed token minted with a sign-in link
	viaAnonymous = "anonymous" // an anonymous browser session (ALLOW_ANONYMOUS)
)

// identity is who is asking: an API token's owner, one of its users (signed
// in, or through an embed token), or an anonymous browser session.
type identity struct {
	Owner    string
	User     string   // the owner's user; "" when the owner itself asks
	Profiles []string // what User may upload to; empty means every profile
	Via      string   // one of the via* constants
	Session  string   // hash of the browser session's secret, for signing out
	// Anonymous is a browser session anyone can make: a client that drops
	// its cookie becomes a new owner on every request.
	Anonymous bool
}

func ownerOf(ctx context.Context) identity {
	if id, ok := ctx.Value(ownerKey).(*identity); ok {
		return *id
	}
	return identity{}
}

// identityCtx carries the caller's identity: one allocation where
// context.WithValue takes two (the identity boxed, and its context).
type identityCtx struct {
	context.Context
	id identity
}

func (c *identityCtx) Value(key any) any {
	if key == ownerKey {
		return &c.id
	}
	return c.Context.Value(key)
}

// allows reports whether the caller may upload to the profile.
func (id identity) allows(profile string) bool {
	s := upload.Session{Profiles: id.Profiles}
	return s.AllowsProfile(profile)
}

// sees reports whether the caller may see u: an owner sees every upload of
// its users, a user only their own.
func (id identity) sees(u *upload.Upload) bool {
	return u.Owner == id.Owner && (id.User == "" || u.User == id.User)
}

// claimOwner names the caller inside signed claims (the no-JS redirect)
// and in per-owner limits: each of an owner's users is counted alone, so
// one busy person does not use up a host app's budget.
func (id identity) claimOwner() string {
	if id.User == "" {
		return id.Owner
	}
	return id.Owner + "/" + id.User
}

// authenticate finds the caller. A valid bearer token wins (an API token or
// an embed token); otherwise a session cookie (a signed-in user's, or an
// anonymous one); otherwise, when anonymous use is allowed, a new anonymous
// session is issued.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return s.authenticateWithin(0)(next)
}

// authenticateWithin is authenticate, then apiDeadline(d), in one: the
// deadline also bounds the session lookup, and the request is copied once
// for both (r.WithContext allocates a new *http.Request, 250 bytes).
func (s *Server) authenticateWithin(d time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return s.authenticated(d, next)
	}
}

func (s *Server) authenticated(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if d > 0 {
			dl := newLazyDeadline(ctx, time.Now().Add(d))
			defer dl.stop()
			ctx = dl
		}
		serve := func(id identity) {
			next.ServeHTTP(w, r.WithContext(&identityCtx{ctx, id}))
		}
		if h := r.Header.Get("Authorization"); h != "" {
			tok, ok := strings.CutPrefix(h, "Bearer ")
			if !ok {
				s.errorJSON(w, r, upload.Errorf(upload.EUNAUTHORIZED, "Use Authorization: Bearer <token>."))
				return
			}
			tok = strings.TrimSpace(tok)
			if owner, ok := s.tokens[sha256.Sum256([]byte(tok))]; ok {
				serve(identity{Owner: owner, Via: viaToken})
				return
			}
			if strings.HasPrefix(tok, embedPrefix) && s.sessions != nil {
				sess, err := s.sessions.Session(ctx, secretHash(tok), upload.SessionEmbed)
				switch upload.ErrorCode(err) {
				case "":
					serve(identity{Owner: sess.Owner, User: sess.User, Profiles: sess.Profiles, Via: viaEmbed})
				case upload.ENOTFOUND:
					s.errorJSON(w, r, upload.Errorf(upload.EUNAUTHORIZED, "The upload token is not valid, or it was revoked; reload the page for a new one."))
				case upload.EEXPIRED:
					s.errorJSON(w, r, upload.Errorf(upload.EUNAUTHORIZED, "The upload token expired; reload the page for a new one."))
				default:
					s.errorJSON(w, r, err)
				}
				return
			}
			s.errorJSON(w, r, upload.Errorf(upload.EUNAUTHORIZED, "The API token is not valid."))
			return
		}
		if c, err := r.Cookie(sessionCookie); err == nil && strings.HasPrefix(c.Value, browserPrefix) && s.sessions != nil {
			hash := secretHash(c.Value)
			sess, err := s.sessions.Session(ctx, hash, upload.SessionBrowser)
			switch code := upload.ErrorCode(err); {
			case code == "":
				serve(identity{Owner: sess.Owner, User: sess.User, Profiles: sess.Profiles, Via: viaBrowser, Session: hash})
				return
			case code != upload.ENOTFOUND && code != upload.EEXPIRED:
				if strings.HasPrefix(r.URL.Path, "/api/") {
					s.errorJSON(w, r, err)
				} else {
					s.errorPage(w, r, err)
				}
				return
			}
			// Signed out, revoked or lapsed: as if there were no cookie.
		}
		if s.cfg.AllowAnonymous {
			owner, ok := s.readSession(r)
			if !ok {
				owner = s.newSession(w)
			}
			serve(identity{Owner: owner, Via: viaAnonymous, Anonymous: true})
			return
		}
		if d > 0 {
			r = r.WithContext(ctx)
		}
		next.ServeHTTP(w, r)
	})
}

// requireOwner refuses requests without an identity.
func (s *Server) requireOwner(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ownerOf(r.Context()).Owner == "" {
			if strings.HasPrefix(r.URL.Path, "/api/") {
				w.Header().Set("WWW-Authenticate", `Bearer realm="uploader"`)
				if s.sessions != nil && fromBrowser(r) {
					// upload.js shows this to a person whose sign-in ended
					// (revoked, expired, signed out in another tab).
					s.errorJSON(w, r, upload.Errorf(upload.EUNAUTHORIZED,
						"You are not signed in any more. Open a new sign-in link to upload (each link works once)."))
					return
				}
				s.errorJSON(w, r, upload.Errorf(upload.EUNAUTHORIZED, "This service needs an API token: send Authorization: Bearer <token>."))
			} else {
				s.errorPage(w, r, upload.Errorf(upload.EUNAUTHORIZED,
					"You are not signed in. Open the sign-in link you were given (each link works once); if it was used already, ask for a new one."))
			}
			return
		}
		next.ServeHTTP(w, r)
	})
}

// fromBrowser tells a browser's request without credentials (it still
// sends the cookie of a session that ended, or, like every current browser,
// Sec-Fetch-Site) from a program's that forgot its token.
func fromBrowser(r *http.Request) bool {
	if r.Header.Get("Authorization") != "" {
		return false
	}
	_, err := r.Cookie(sessionCookie)
	return err == nil || r.Header.Get("Sec-Fetch-Site") != ""
}

// ownerOnly lets through only the owner itself (an API token): minting and
// revoking sessions is not for the users those sessions are for.
func ownerOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ownerOf(r.Context()).Via != viaToken {
			writeJSON(w, http.StatusForbidden, errorBody{errorDetail{upload.EFORBIDDEN,
				"Only an API token (Authorization: Bearer with one of API_TOKENS) may manage sign-in sessions."}})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// crossOrigin applies net/http's cross-origin protection to requests that a
// browser authenticates by itself (cookies). A request carrying an
// Authorization header is exempt: no browser adds one to a cross-site form
// or fetch on its own, and cross-origin scripts can only send one after a
// CORS preflight that ALLOWED_ORIGINS decides. That is how embed.js, on the
// host app's page, reaches the API.
func (s *Server) crossOrigin(next http.Handler) http.Handler {
	protection := http.NewCrossOriginProtection()
	protection.SetDenyHandler(http.HandlerFunc(s.crossOriginRefused))
	protected := protection.Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			next.ServeHTTP(w, r)
			return
		}
		protected.ServeHTTP(w, r)
	})
}

// crossOriginRefused answers a refused cross-origin request the way the
// rest of the API and the pages answer errors, not with net/http's plain text.
func (s *Server) crossOriginRefused(w http.ResponseWriter, r *http.Request) {
	err := upload.Errorf(upload.EFORBIDDEN,
		"This request came from another site and was refused: your sign-in works only on this site's own pages.")
	if strings.HasPrefix(r.URL.Path, "/api/") {
		s.errorJSON(w, r, err)
	} else {
		s.errorPage(w, r, err)
	}
}

// newSecret returns prefix and 256 random bits, URL-safe.
func newSecret(prefix string) string {
	var b [32]byte
	rand.Read(b[:])
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// secretHash is what the database keeps of a secret: a leaked table signs
// nobody in.
func secretHash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// deriveKey returns a key for one purpose from the session secret, so a
// value signed for one use is never valid for another.
func deriveKey(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("uploader key: " + purpose))
	return m.Sum(nil)
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
