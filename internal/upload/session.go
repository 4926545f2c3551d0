package upload

import "time"

// The kinds of Session. A host app (an API token's owner) mints, for one of
// its users, a sign-in link and an embed token at once; opening the link
// gives the browser its own session.
const (
	SessionLink    = "link"    // a sign-in link: good for one use, until it expires
	SessionBrowser = "browser" // a signed-in browser, behind an HttpOnly cookie
	SessionEmbed   = "embed"   // a short-lived bearer token for embed.js
)

// Session is one user's permission to upload on behalf of an owner. It is
// stored under a hash of its secret; the secret is only ever in the link,
// the cookie or the token.
type Session struct {
	Kind      string
	Owner     string
	User      string
	Profiles  []string // the profiles the user may upload to; empty means all
	CreatedAt time.Time
	ExpiresAt time.Time
}

// AllowsProfile reports whether the session lets its user upload to the
// profile.
func (s *Session) AllowsProfile(name string) bool {
	if len(s.Profiles) == 0 {
		return true
	}
	for _, p := range s.Profiles {
		if p == name {
			return true
		}
	}
	return false
}
