package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"uploader/internal/upload"
)

// Sessions is what the web role needs to sign people in: sign-in links,
// browser sessions and embed tokens, stored under hashes of their secrets.
type Sessions interface {
	CreateSession(ctx context.Context, id string, s *upload.Session) error
	Session(ctx context.Context, id, kind string) (*upload.Session, error)
	UseSignInLink(ctx context.Context, id string) (*upload.Session, error)
	DeleteSession(ctx context.Context, id string) error
	DeleteUserSessions(ctx context.Context, owner, user string) (int64, error)
}

// Limits of a sign-in link's lifetime (expires_in).
const (
	defaultLinkTTL = 15 * time.Minute
	minLinkTTL     = time.Minute
	maxLinkTTL     = 7 * 24 * time.Hour
)

type sessionRequest struct {
	User      string   `json:"user"`
	Profiles  []string `json:"profiles"`
	ExpiresIn string   `json:"expires_in"`
}

type sessionResponse struct {
	URL       string    `json:"url"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	User      string    `json:"user"`
	Profiles  []string  `json:"profiles"`
}

// createSession handles POST /api/sessions: an API token mints, for one of
// its users, a sign-in link (one use) and an embed token, both lapsing
// after expires_in.
func (s *Server) createSession(w http.ResponseWriter, r *http.Request) error {
	var req sessionRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	resp, err := s.mintSession(r.Context(), ownerOf(r.Context()).Owner, req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, resp)
	return nil
}

// mintSession checks the request and stores its link and embed token.
func (s *Server) mintSession(ctx context.Context, owner string, req sessionRequest) (*sessionResponse, error) {
	user, err := checkUser(req.User)
	if err != nil {
		return nil, err
	}
	ttl := defaultLinkTTL
	if req.ExpiresIn != "" {
		d, err := time.ParseDuration(req.ExpiresIn)
		if err != nil || d < minLinkTTL || d > maxLinkTTL {
			return nil, upload.Errorf(upload.EINVALID, "expires_in %q: use a duration between 1m and 168h, such as 15m.", req.ExpiresIn)
		}
		ttl = d
	}
	profiles := []string{}
	for _, p := range req.Profiles {
		if _, ok := s.profiles[p]; !ok {
			return nil, upload.Errorf(upload.EINVALID, "Unknown profile %q; use some of: %s.", p, strings.Join(s.profiles.Names(), ", "))
		}
		if !contains(profiles, p) {
			profiles = append(profiles, p)
		}
	}
	now := s.now()
	expires := now.Add(ttl).Truncate(time.Millisecond)
	link, token := newSecret(""), newSecret(embedPrefix)
	for _, k := range []struct{ secret, kind string }{{link, upload.SessionLink}, {token, upload.SessionEmbed}} {
		sess := &upload.Session{Kind: k.kind, Owner: owner, User: user, Profiles: profiles, CreatedAt: now, ExpiresAt: expires}
		if err := s.sessions.CreateSession(ctx, secretHash(k.secret), sess); err != nil {
			return nil, err
		}
	}
	s.log.Info("sign-in link minted", "owner", owner, "user", user, "profiles", profiles, "expires_at", expires)
	if len(profiles) == 0 {
		profiles = s.profiles.Names()
	}
	return &sessionResponse{
		URL: s.cfg.AppURL + "/sign-in/" + link, Token: token, ExpiresAt: expires.UTC(),
		User: user, Profiles: profiles,
	}, nil
}

// revokeSessions handles DELETE /api/sessions/{user}: every link, browser
// session and embed token of that user ends at once.
func (s *Server) revokeSessions(w http.ResponseWriter, r *http.Request) error {
	user, err := url.PathUnescape(chi.URLParam(r, "user"))
	if err != nil {
		return upload.Errorf(upload.EINVALID, "The user in the path is not valid URL escaping.")
	}
	if user, err = checkUser(user); err != nil {
		return err
	}
	owner := ownerOf(r.Context()).Owner
	n, err := s.sessions.DeleteUserSessions(r.Context(), owner, user)
	if err != nil {
		return err
	}
	s.log.Info("sessions revoked", "owner", owner, "user", user, "sessions", n)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// checkUser accepts the host app's own name for a user: 1 to 200
// characters of text, without control characters.
func checkUser(u string) (string, error) {
	u = strings.TrimSpace(u)
	if u == "" {
		return "", upload.Errorf(upload.EINVALID, `"user" is missing: name the person who will upload, e.g. "alice" or your app's user id.`)
	}
	if !utf8.ValidString(u) || utf8.RuneCountInString(u) > 200 || strings.IndexFunc(u, unicode.IsControl) >= 0 {
		return "", upload.Errorf(upload.EINVALID, `"user" must be 1 to 200 characters of text, without control characters.`)
	}
	return u, nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
