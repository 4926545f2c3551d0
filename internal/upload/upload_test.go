package upload

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestNewIDSortsByTimeAndIsValid(t *testing.T) {
	base := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	var ids []string
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := NewID(base.Add(time.Duration(i) * time.Millisecond))
		if !ValidID(id) {
			t.Fatalf("NewID made %q, which ValidID refuses", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
		ids = append(ids, id)
	}
	if !sort.StringsAreSorted(ids) {
		t.Error("ids made later do not sort later")
	}
}

func TestValidIDRefusesHostileInput(t *testing.T) {
	good := NewID(time.Now())
	for _, s := range []string{"", "../../etc/passwd", strings.ToUpper(good), good + "a", good[:25], good[:25] + "/", good[:25] + "i", "incoming/" + good} {
		if ValidID(s) {
			t.Errorf("ValidID(%q) = true", s)
		}
	}
}

func TestKeys(t *testing.T) {
	id := NewID(time.Now())
	if IncomingKey(id) != "incoming/"+id || OriginalKey(id) != "originals/"+id {
		t.Error("incoming/original keys")
	}
	if got := VariantKey(id, 3, "w320.jpg"); got != "variants/"+id+"/3/w320.jpg" || !strings.HasPrefix(got, VariantDir(id)) {
		t.Errorf("VariantKey = %q", got)
	}
}

func TestErrorCodeAndMessage(t *testing.T) {
	e := Errorf(ENOTFOUND, "Upload %s was not found.", "x")
	wrapped := fmt.Errorf("loading: %w", e)
	if ErrorCode(wrapped) != ENOTFOUND || ErrorMessage(wrapped) != "Upload x was not found." {
		t.Errorf("wrapped error lost its code or message: %q %q", ErrorCode(wrapped), ErrorMessage(wrapped))
	}
	plain := errors.New("dial tcp 10.0.0.1:5432: secret detail")
	if ErrorCode(plain) != EINTERNAL || strings.Contains(ErrorMessage(plain), "secret") {
		t.Errorf("unexpected errors must be internal with a generic message: %q", ErrorMessage(plain))
	}
	if ErrorCode(nil) != "" {
		t.Error("nil error has a code")
	}
}

func TestDefaultProfilesValid(t *testing.T) {
	ps := DefaultProfiles(50_000_000)
	for _, name := range []string{"photo", "avatar"} {
		p, ok := ps[name]
		if !ok {
			t.Fatalf("profile %s missing", name)
		}
		if err := p.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if ps["avatar"].Queue == ps["photo"].Queue {
		t.Error("avatars share the photo queue; they would wait behind large photos")
	}
}

func TestParseProfiles(t *testing.T) {
	base := DefaultProfiles(50_000_000)
	ok := `[{"name":"banner","allowed_types":["image/jpeg"],"max_bytes":1000,"max_pixels":1000000,
		"variants":[{"name":"wide","width":1600,"height":400,"fit":"cover","formats":["auto","webp","avif"],"quality":80}]}]`
	ps, err := ParseProfiles(base, []byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 3 || ps["banner"].Variants[0].Width != 1600 || len(base) != 2 {
		t.Errorf("profiles after parse: %v (base %d)", ps.Names(), len(base))
	}
	bad := map[string]string{
		"not json":       `{`,
		"svg allowed":    `[{"name":"x","allowed_types":["image/svg+xml"],"max_bytes":1,"max_pixels":1,"variants":[{"name":"a","width":1,"height":1,"fit":"fit","formats":["jpeg"],"quality":80}]}]`,
		"bad fit":        `[{"name":"x","allowed_types":["image/png"],"max_bytes":1,"max_pixels":1,"variants":[{"name":"a","width":1,"height":1,"fit":"stretch","formats":["jpeg"],"quality":80}]}]`,
		"no variants":    `[{"name":"x","allowed_types":["image/png"],"max_bytes":1,"max_pixels":1,"variants":[]}]`,
		"bad quality":    `[{"name":"x","allowed_types":["image/png"],"max_bytes":1,"max_pixels":1,"variants":[{"name":"a","width":1,"height":1,"fit":"fit","formats":["jpeg"],"quality":0}]}]`,
		"dup variant":    `[{"name":"x","allowed_types":["image/png"],"max_bytes":1,"max_pixels":1,"variants":[{"name":"a","width":1,"height":1,"fit":"fit","formats":["jpeg"],"quality":8},{"name":"a","width":1,"height":1,"fit":"fit","formats":["jpeg"],"quality":8}]}]`,
		"unknown format": `[{"name":"x","allowed_types":["image/png"],"max_bytes":1,"max_pixels":1,"variants":[{"name":"a","width":1,"height":1,"fit":"fit","formats":["jxl"],"quality":8}]}]`,
	}
	for name, data := range bad {
		if _, err := ParseProfiles(base, []byte(data)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestIssuedIDs: an issued ID proves who it was issued to, under its key
// only, and still looks, sorts and validates like any other ID.
func TestIssuedIDs(t *testing.T) {
	k := NewIDKey([]byte("0123456789abcdef0123456789abcdef"))
	other := NewIDKey([]byte("another key, another server....."))
	at := time.Date(2026, 12, 1, 12, 0, 0, 123_000_000, time.UTC)
	id := k.Issue(at, "t_acme/ann")
	if !ValidID(id) {
		t.Fatalf("Issue made %q, which ValidID refuses", id)
	}
	if got, ok := k.IssuedTo(id, "t_acme/ann"); !ok || !got.Equal(at) {
		t.Errorf("IssuedTo its own claim = %v %v, want %v true", got, ok, at)
	}
	for _, c := range []struct {
		name, id, claim string
		k               *IDKey
	}{
		{"another claim", id, "t_acme/bob", k},
		{"the owner instead of its user", id, "t_acme", k},
		{"another key", id, "t_acme/ann", other},
		{"a random ID", NewID(at), "t_acme/ann", k},
		{"one character changed", id[:20] + string("0123456789abcdefghjk"[(strings.IndexByte("0123456789abcdefghjk", id[20])+1)%20]) + id[21:], "t_acme/ann", k},
		{"not an ID", "../../etc/passwd", "t_acme/ann", k},
	} {
		if _, ok := c.k.IssuedTo(c.id, c.claim); ok {
			t.Errorf("%s: IssuedTo(%q) = true", c.name, c.id)
		}
	}
	if later := k.Issue(at.Add(time.Millisecond), "x"); later <= id {
		t.Errorf("an ID issued later (%s) does not sort after %s", later, id)
	}
	if got := IDTime(NewID(at)); !got.Equal(at) {
		t.Errorf("IDTime = %v, want %v", got, at)
	}
}
