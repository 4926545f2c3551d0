package upload

import (
	"net/url"
	"strings"
	"time"
)

// An upload sent in one POST has no row until its file arrives. Its POST
// policy makes S3 store what the row would have held as the object's own
// metadata (x-amz-meta-owner and so on), each an exact-match condition
// of the signed policy, so a client that changes one is refused; the row
// is then made from the object (FromObject), by whichever of complete,
// the bucket's event, the no-JS redirect or the reconciler comes first.
const (
	MetaOwner    = "owner"
	MetaUser     = "user"
	MetaProfile  = "profile"
	MetaFilename = "filename"
)

// maxMetaFilename bounds the encoded filename: S3 keeps at most 2 KB of
// user metadata per object.
const maxMetaFilename = 1024

// MetaField is one metadata entry of an incoming object; Name is without
// the x-amz-meta- prefix, Value is percent-encoded (S3 metadata is ASCII).
type MetaField struct {
	Name, Value string
}

// ObjectMeta returns the metadata u's incoming object must carry, in a
// fixed order. The filename is cut, at a character, to what S3 can keep.
func ObjectMeta(u *Upload) []MetaField {
	name := u.Filename
	enc := url.PathEscape(name)
	for len(enc) > maxMetaFilename {
		r := []rune(name)
		name = string(r[:len(r)*3/4])
		enc = url.PathEscape(name)
	}
	return []MetaField{
		{MetaOwner, url.PathEscape(u.Owner)},
		{MetaUser, url.PathEscape(u.User)},
		{MetaProfile, url.PathEscape(u.Profile)},
		{MetaFilename, enc},
	}
}

// FromObject returns the pending upload that the incoming object of id
// describes by its metadata (as S3 returns it, without the x-amz-meta-
// prefix, in any case), size and Content-Type. It reports false for an
// object that carries no metadata of ours: one nobody issued a policy for.
func FromObject(id string, meta map[string]string, size int64, contentType string, now time.Time) (*Upload, bool) {
	get := func(name string) (string, bool) {
		v, ok := meta[name]
		if !ok {
			for k, val := range meta {
				if strings.EqualFold(k, name) {
					v, ok = val, true
					break
				}
			}
		}
		if !ok {
			return "", false
		}
		s, err := url.PathUnescape(v)
		return s, err == nil
	}
	owner, ok1 := get(MetaOwner)
	user, ok2 := get(MetaUser)
	profile, ok3 := get(MetaProfile)
	filename, ok4 := get(MetaFilename)
	if !ok1 || !ok2 || !ok3 || !ok4 || owner == "" || profile == "" || !ValidID(id) {
		return nil, false
	}
	if filename == "" {
		filename = "Untitled image" // the no-JS form cannot say the file's name
	}
	created := IDTime(id)
	if created.IsZero() || created.After(now) {
		created = now
	}
	return &Upload{
		ID: id, Profile: profile, Owner: owner, User: user, Filename: filename,
		DeclaredType: contentType, DeclaredBytes: size, Status: StatusPending,
		CreatedAt: created, UpdatedAt: now, ExpiresAt: now,
	}, true
}
