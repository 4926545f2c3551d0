package web

import (
	"context"
	"time"

	"uploader/internal/upload"
)

// An upload sent in one POST has no row until its file arrives (see
// createUpload). The row is made here, from the object's metadata, by the
// first of complete, the bucket's event, the no-JS redirect or the
// reconciler; the others find it made.

// issueID returns a new upload ID whose MAC names who it was issued to.
func (s *Server) issueID(now time.Time, who identity) string {
	return s.idKey.Issue(now, who.claimOwner())
}

// unrecorded is an upload of the caller's that has no row: issued to it
// and not arrived yet (Arrived nil), or arrived with metadata that names
// the caller.
type unrecorded struct {
	IssuedAt time.Time      // zero when the ID was not issued to this caller (an owner asking about its user's)
	Arrived  *upload.Upload // the row the object describes, not yet stored
}

// findUnrecorded looks for the caller's upload id that has no row. An ID
// whose MAC is not the caller's is looked up in storage only for an owner
// (whose users' uploads it sees); anything else is not found, exactly like
// another owner's upload, so IDs cannot be probed.
func (s *Server) findUnrecorded(ctx context.Context, id string) (unrecorded, error) {
	notFound := upload.Errorf(upload.ENOTFOUND, "Upload %s was not found.", id)
	who := ownerOf(ctx)
	at, mine := s.idKey.IssuedTo(id, who.claimOwner())
	if !mine && who.User != "" {
		return unrecorded{}, notFound
	}
	info, err := s.objects.Head(ctx, upload.IncomingKey(id))
	switch {
	case upload.ErrorCode(err) == upload.ENOTFOUND && mine:
		return unrecorded{IssuedAt: at}, nil
	case upload.ErrorCode(err) == upload.ENOTFOUND:
		return unrecorded{}, notFound
	case err != nil:
		return unrecorded{}, err // an outage: the S3 adapter said so
	}
	u, ok := upload.FromObject(id, info.Metadata, info.Size, normalizeType(info.ContentType), s.now())
	if !ok || !who.sees(u) {
		return unrecorded{}, notFound
	}
	return unrecorded{IssuedAt: at, Arrived: u}, nil
}

// fromObject reads the upload that the incoming object id describes. A
// missing object, or one without our metadata, is ENOTFOUND.
func (s *Server) fromObject(ctx context.Context, id string) (*upload.Upload, error) {
	info, err := s.objects.Head(ctx, upload.IncomingKey(id))
	if err != nil {
		return nil, err // the S3 adapter said whether it is missing or an outage
	}
	u, ok := upload.FromObject(id, info.Metadata, info.Size, normalizeType(info.ContentType), s.now())
	if !ok {
		return nil, upload.Errorf(upload.ENOTFOUND, "The object of upload %s carries no upload metadata.", id)
	}
	return u, nil
}

// record stores the row of an upload whose file arrived, once: when
// another request stored it first, that row is returned.
func (s *Server) record(ctx context.Context, u *upload.Upload) (*upload.Upload, error) {
	if _, err := s.profile(u.Profile); err != nil {
		return nil, err
	}
	err := s.store.CreateUpload(ctx, u)
	if upload.ErrorCode(err) == upload.ECONFLICT {
		return s.store.Upload(ctx, u.ID)
	} else if err != nil {
		return nil, err
	}
	return u, nil
}

// permissionEnds is when the POST policy of an ID issued at t lapses (or
// lapsed): S3 refuses a POST that starts later.
func (s *Server) permissionEnds(issued time.Time) time.Time {
	return issued.Add(s.cfg.UploadExpires).UTC().Truncate(time.Second)
}
