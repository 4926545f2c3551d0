package sqlstore

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"uploader/internal/upload"
)

// TestSessions runs the sign-in session contract against every backend.
func TestSessions(t *testing.T) {
	tests := []struct {
		name string
		fn   func(t *testing.T, d *DB)
	}{
		{"a link signs in once", testLinkOnce},
		{"a link used by many at once signs in one", testLinkRace},
		{"expired and unknown", testSessionExpiry},
		{"revoking a user ends all their sessions", testRevoke},
		{"a user's uploads", testListUser},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.fn(t, openDB(t, b.url(t)))
				})
			}
		})
	}
}

func session(kind, owner, user string, ttl time.Duration, profiles ...string) *upload.Session {
	now := time.Now()
	return &upload.Session{Kind: kind, Owner: owner, User: user, Profiles: profiles, CreatedAt: now, ExpiresAt: now.Add(ttl)}
}

func testLinkOnce(t *testing.T, d *DB) {
	ctx := context.Background()
	if err := d.CreateSession(ctx, "link1", session(upload.SessionLink, "t_owner", "alice", time.Minute, "photo")); err != nil {
		t.Fatal(err)
	}
	s, err := d.UseSignInLink(ctx, "link1")
	if err != nil {
		t.Fatalf("first use: %v", err)
	}
	if s.Owner != "t_owner" || s.User != "alice" || len(s.Profiles) != 1 || s.Profiles[0] != "photo" {
		t.Errorf("first use gave %+v", s)
	}
	if _, err := d.UseSignInLink(ctx, "link1"); upload.ErrorCode(err) != upload.ECONFLICT {
		t.Errorf("second use: %v, want %s", err, upload.ECONFLICT)
	}
	// A link is not a browser session, nor an embed token.
	if _, err := d.Session(ctx, "link1", upload.SessionEmbed); upload.ErrorCode(err) != upload.ENOTFOUND {
		t.Errorf("link read as an embed token: %v", err)
	}
}

func testLinkRace(t *testing.T, d *DB) {
	ctx := context.Background()
	if err := d.CreateSession(ctx, "race", session(upload.SessionLink, "t_owner", "bob", time.Minute)); err != nil {
		t.Fatal(err)
	}
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := d.UseSignInLink(ctx, "race"); err == nil {
				ok.Add(1)
			} else if upload.ErrorCode(err) != upload.ECONFLICT {
				t.Errorf("concurrent use: %v", err)
			}
		}()
	}
	wg.Wait()
	if n := ok.Load(); n != 1 {
		t.Errorf("%d of 10 concurrent uses signed in, want 1", n)
	}
}

func testSessionExpiry(t *testing.T, d *DB) {
	ctx := context.Background()
	for _, kind := range []string{upload.SessionLink, upload.SessionBrowser} {
		if err := d.CreateSession(ctx, "old-"+kind, session(kind, "t_owner", "carol", -time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.UseSignInLink(ctx, "old-link"); upload.ErrorCode(err) != upload.EEXPIRED {
		t.Errorf("expired link: %v, want %s", err, upload.EEXPIRED)
	}
	if _, err := d.Session(ctx, "old-browser", upload.SessionBrowser); upload.ErrorCode(err) != upload.EEXPIRED {
		t.Errorf("expired session: %v, want %s", err, upload.EEXPIRED)
	}
	if _, err := d.UseSignInLink(ctx, "never-made"); upload.ErrorCode(err) != upload.ENOTFOUND {
		t.Errorf("unknown link: %v, want %s", err, upload.ENOTFOUND)
	}
}

func testRevoke(t *testing.T, d *DB) {
	ctx := context.Background()
	for id, s := range map[string]*upload.Session{
		"a-link":    session(upload.SessionLink, "t_owner", "dave", time.Hour),
		"a-browser": session(upload.SessionBrowser, "t_owner", "dave", time.Hour),
		"a-embed":   session(upload.SessionEmbed, "t_owner", "dave", time.Hour),
		"other":     session(upload.SessionBrowser, "t_owner", "erin", time.Hour),
		"elsewhere": session(upload.SessionBrowser, "t_other", "dave", time.Hour),
	} {
		if err := d.CreateSession(ctx, id, s); err != nil {
			t.Fatal(err)
		}
	}
	n, err := d.DeleteUserSessions(ctx, "t_owner", "dave")
	if err != nil || n != 3 {
		t.Fatalf("revoked %d (%v), want 3", n, err)
	}
	if _, err := d.Session(ctx, "a-browser", upload.SessionBrowser); upload.ErrorCode(err) != upload.ENOTFOUND {
		t.Errorf("revoked browser session still answers: %v", err)
	}
	if _, err := d.UseSignInLink(ctx, "a-link"); upload.ErrorCode(err) != upload.ENOTFOUND {
		t.Errorf("revoked link still answers: %v", err)
	}
	for _, id := range []string{"other", "elsewhere"} {
		if _, err := d.Session(ctx, id, upload.SessionBrowser); err != nil {
			t.Errorf("session %s of someone else ended too: %v", id, err)
		}
	}
}

func testListUser(t *testing.T, d *DB) {
	ctx := context.Background()
	for i, user := range []string{"alice", "bob", "alice", ""} {
		u := newUpload("t_owner", t0.Add(time.Duration(i)*time.Second))
		u.User = user
		create(t, d, u)
	}
	us, err := d.ListUserUploads(ctx, "t_owner", "alice", "", 10)
	if err != nil || len(us) != 2 {
		t.Fatalf("alice's uploads: %d (%v), want 2", len(us), err)
	}
	for _, u := range us {
		if u.User != "alice" {
			t.Errorf("alice's list holds an upload of %q", u.User)
		}
	}
	if us, err := d.ListUploads(ctx, "t_owner", "", 10); err != nil || len(us) != 4 {
		t.Errorf("the owner's uploads: %d (%v), want 4", len(us), err)
	}
}
