package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"uploader/internal/upload"
)

// CreateSession stores s under id, the hash of its secret. It also drops
// sessions that lapsed more than a day ago, so the table stays the size of
// the live ones without a job of its own.
func (d *DB) CreateSession(ctx context.Context, id string, s *upload.Session) (err error) {
	defer classifyErr(&err)
	now := d.clock()
	if s.CreatedAt.IsZero() {
		s.CreatedAt = now
	}
	if _, err := d.db.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at < $1`, millis(now.Add(-24*time.Hour))); err != nil {
		return fmt.Errorf("sqlstore: create session: %w", err)
	}
	_, err = d.db.ExecContext(ctx, `INSERT INTO sessions (id, kind, owner, user_id, profiles, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		id, s.Kind, s.Owner, s.User, strings.Join(s.Profiles, ","), millis(s.CreatedAt), millis(s.ExpiresAt))
	if err != nil {
		return fmt.Errorf("sqlstore: create session: %w", err)
	}
	return nil
}

// Session returns the live session of the kind stored under id: ENOTFOUND
// when there is none (never made, revoked or signed out), EEXPIRED when it
// lapsed.
func (d *DB) Session(ctx context.Context, id, kind string) (_ *upload.Session, err error) {
	defer classifyErr(&err)
	s, used, err := d.session(ctx, d.db.QueryRowContext(ctx, `SELECT kind, owner, user_id, profiles, created_at, expires_at, used_at
		FROM sessions WHERE id = $1 AND kind = $2`, id, kind))
	if err != nil {
		return nil, err
	}
	if used != 0 {
		return nil, upload.Errorf(upload.ENOTFOUND, "This session has ended.")
	}
	if !d.clock().Before(s.ExpiresAt) {
		return nil, upload.Errorf(upload.EEXPIRED, "This session expired.")
	}
	return s, nil
}

// UseSignInLink marks the link stored under id used and returns it. Of
// concurrent calls exactly one succeeds (the check and the change are one
// UPDATE). A link used before is ECONFLICT, a lapsed one EEXPIRED, an
// unknown one ENOTFOUND; each with a sentence for the person holding it.
func (d *DB) UseSignInLink(ctx context.Context, id string) (_ *upload.Session, err error) {
	defer classifyErr(&err)
	now := millis(d.clock())
	s, _, err := d.session(ctx, d.db.QueryRowContext(ctx, `UPDATE sessions SET used_at = $2
		WHERE id = $1 AND kind = $3 AND used_at = 0 AND expires_at > $2
		RETURNING kind, owner, user_id, profiles, created_at, expires_at, used_at`, id, now, upload.SessionLink))
	if err == nil {
		return s, nil
	}
	if upload.ErrorCode(err) != upload.ENOTFOUND {
		return nil, err
	}
	_, used, err := d.session(ctx, d.db.QueryRowContext(ctx, `SELECT kind, owner, user_id, profiles, created_at, expires_at, used_at
		FROM sessions WHERE id = $1 AND kind = $2`, id, upload.SessionLink))
	switch {
	case upload.ErrorCode(err) == upload.ENOTFOUND:
		return nil, upload.Errorf(upload.ENOTFOUND, "This sign-in link is not valid: it may be mistyped, or it was withdrawn. Ask for a new one.")
	case err != nil:
		return nil, err
	case used != 0:
		return nil, upload.Errorf(upload.ECONFLICT, "This sign-in link was already used; each link signs in once. Ask for a new one.")
	default:
		return nil, upload.Errorf(upload.EEXPIRED, "This sign-in link expired; ask for a new one.")
	}
}

// DeleteSession ends one session (a browser signing out).
func (d *DB) DeleteSession(ctx context.Context, id string) (err error) {
	defer classifyErr(&err)
	if _, err := d.db.ExecContext(ctx, `DELETE FROM sessions WHERE id = $1`, id); err != nil {
		return fmt.Errorf("sqlstore: delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions ends every session of the owner's user: unused links,
// signed-in browsers and embed tokens. It returns how many there were.
func (d *DB) DeleteUserSessions(ctx context.Context, owner, user string) (_ int64, err error) {
	defer classifyErr(&err)
	res, err := d.db.ExecContext(ctx, `DELETE FROM sessions WHERE owner = $1 AND user_id = $2`, owner, user)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: delete sessions of %s/%s: %w", owner, user, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlstore: delete sessions of %s/%s: %w", owner, user, err)
	}
	return n, nil
}

func (d *DB) session(ctx context.Context, row *sql.Row) (*upload.Session, int64, error) {
	var (
		s                        upload.Session
		profiles                 string
		created, expires, usedAt int64
	)
	err := row.Scan(&s.Kind, &s.Owner, &s.User, &profiles, &created, &expires, &usedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, upload.Errorf(upload.ENOTFOUND, "There is no such session.")
	} else if err != nil {
		return nil, 0, fmt.Errorf("sqlstore: session: %w", err)
	}
	if profiles != "" {
		s.Profiles = strings.Split(profiles, ",")
	}
	s.CreatedAt, s.ExpiresAt = fromMillis(created), fromMillis(expires)
	return &s, usedAt, nil
}
