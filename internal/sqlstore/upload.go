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

// Limits for ListUploads and UploadsByStatus.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

const uploadColumns = `id, profile, owner, filename, declared_type, declared_bytes, content_type, bytes,
	status, error_code, error_message, width, height, blurhash, version, attempts,
	created_at, updated_at, expires_at, processed_at`

// uploadColumnCount is the number of uploadColumns.
const uploadColumnCount = 20

// CreateUpload inserts u with its status as given (normally pending). It
// sets CreatedAt and UpdatedAt when they are zero; times are kept to the
// millisecond. An existing ID is ECONFLICT. Variants are not stored here:
// an upload gets them from MarkReady.
//
// Inserts are group-committed: concurrent calls share one transaction and
// one multi-row INSERT (see batch.go), which is what lets a presign
// endpoint keep up with many clients on SQLite's single writer.
func (d *DB) CreateUpload(ctx context.Context, u *upload.Upload) (err error) {
	defer classifyErr(&err)
	now := d.clock()
	if u.CreatedAt.IsZero() {
		u.CreatedAt = now
	}
	if u.UpdatedAt.IsZero() {
		u.UpdatedAt = now
	}
	if u.Status == "" {
		u.Status = upload.StatusPending
	}
	return d.batch.insert(ctx, d, u)
}

// Upload returns the upload with its variants ordered by name, or
// ENOTFOUND.
func (d *DB) Upload(ctx context.Context, id string) (_ *upload.Upload, err error) {
	defer classifyErr(&err)
	rows, err := d.db.QueryContext(ctx, `SELECT `+uploadColumns+` FROM uploads WHERE id = $1`, id)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: upload %s: %w", id, err)
	}
	us, err := d.scanWithVariants(ctx, rows)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: upload %s: %w", id, err)
	}
	if len(us) == 0 {
		return nil, notFound(id)
	}
	return us[0], nil
}

// ListUploads returns up to limit of the owner's uploads, newest first
// (IDs sort by creation time), with IDs below cursor when it is not empty.
// The last ID of a page is the cursor of the next. A limit outside
// 1..MaxLimit means DefaultLimit or MaxLimit.
func (d *DB) ListUploads(ctx context.Context, owner, cursor string, limit int) (_ []*upload.Upload, err error) {
	defer classifyErr(&err)
	limit = clampLimit(limit)
	var rows *sql.Rows
	if cursor == "" {
		rows, err = d.db.QueryContext(ctx, `SELECT `+uploadColumns+` FROM uploads
			WHERE owner = $1 ORDER BY id DESC LIMIT $2`, owner, limit)
	} else {
		rows, err = d.db.QueryContext(ctx, `SELECT `+uploadColumns+` FROM uploads
			WHERE owner = $1 AND id < $2 ORDER BY id DESC LIMIT $3`, owner, cursor, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list uploads of %s: %w", owner, err)
	}
	us, err := d.scanWithVariants(ctx, rows)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list uploads of %s: %w", owner, err)
	}
	return us, nil
}

// UploadsByStatus returns up to limit uploads in status whose last change
// is older than updatedBefore, the oldest first, with their variants.
func (d *DB) UploadsByStatus(ctx context.Context, status upload.Status, updatedBefore time.Time, limit int) (_ []*upload.Upload, err error) {
	defer classifyErr(&err)
	rows, err := d.db.QueryContext(ctx, `SELECT `+uploadColumns+` FROM uploads
		WHERE status = $1 AND updated_at < $2 ORDER BY updated_at, id LIMIT $3`,
		string(status), millis(updatedBefore), clampLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: uploads %s: %w", status, err)
	}
	us, err := d.scanWithVariants(ctx, rows)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: uploads %s: %w", status, err)
	}
	return us, nil
}

// MarkProcessing moves an upload to processing, records the verified
// content type and size, clears any earlier error and counts the attempt.
// It takes a pending upload, or a failed one whose failure is
// upload.Retryable and that has had fewer than upload.MaxAttempts runs; a
// final failure stays failed. The check and the change are one UPDATE, so
// of many concurrent callers exactly one gets true. It returns false for
// an upload it leaves alone, and ENOTFOUND when there is none.
func (d *DB) MarkProcessing(ctx context.Context, id, contentType string, bytes int64) (_ bool, err error) {
	defer classifyErr(&err)
	res, err := d.db.ExecContext(ctx, `UPDATE uploads
		SET status = $2, content_type = $3, bytes = $4, error_code = '', error_message = '', updated_at = $5,
			attempts = attempts + 1
		WHERE id = $1 AND (status = $6
			OR (status = $7 AND error_code IN ($8, $9) AND attempts < $10))`,
		id, string(upload.StatusProcessing), contentType, bytes, millis(d.clock()),
		string(upload.StatusPending), string(upload.StatusFailed),
		upload.EINTERNAL, upload.EUNAVAILABLE, upload.MaxAttempts)
	if err != nil {
		return false, fmt.Errorf("sqlstore: mark processing %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sqlstore: mark processing %s: %w", id, err)
	}
	if n > 0 {
		return true, nil
	}
	if err := d.exists(ctx, id); err != nil {
		return false, err
	}
	return false, nil
}

// MarkReady sets the upload ready with u's width, height, blurhash and
// content type, clears its error and replaces its variants with
// u.Variants, all in one transaction. It sets u.Status, u.UpdatedAt and,
// when nil, u.ProcessedAt to what it stored.
func (d *DB) MarkReady(ctx context.Context, u *upload.Upload) (err error) {
	defer classifyErr(&err)
	now := d.clock()
	processed := now
	if u.ProcessedAt != nil {
		processed = *u.ProcessedAt
	}
	err = d.inTx(ctx, func(tx *sql.Tx) error {
		// The UPDATE comes first: it locks the row on Postgres, so two
		// MarkReady calls for one upload cannot interleave their variants.
		// A run marks ready only the version it processed: when a lease
		// lapsed and a newer run started, the older one must not point the
		// row at its keys. Version 0 (a caller that never bumped) matches any.
		res, err := tx.ExecContext(ctx, `UPDATE uploads
			SET status = $2, width = $3, height = $4, blurhash = $5, content_type = $6,
				error_code = '', error_message = '', processed_at = $7, updated_at = $8
			WHERE id = $1 AND ($9 = 0 OR version = $9)`,
			u.ID, string(upload.StatusReady), u.Width, u.Height, u.Blurhash, u.ContentType,
			millis(processed), millis(now), u.Version)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			var v int
			if err := tx.QueryRowContext(ctx, `SELECT version FROM uploads WHERE id = $1`, u.ID).Scan(&v); err != nil {
				return notFound(u.ID)
			}
			return upload.Errorf(upload.ECONFLICT, "Upload %s is being processed by a newer run (version %d).", u.ID, v)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM variants WHERE upload_id = $1`, u.ID); err != nil {
			return err
		}
		for _, v := range u.Variants {
			if _, err := tx.ExecContext(ctx, `INSERT INTO variants
				(upload_id, name, object_key, content_type, width, height, bytes, original_bytes)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
				u.ID, v.Name, v.Key, v.ContentType, v.Width, v.Height, v.Bytes, v.OriginalBytes); err != nil {
				return fmt.Errorf("variant %q: %w", v.Name, err)
			}
		}
		return nil
	})
	if err != nil {
		if c := upload.ErrorCode(err); c == upload.ENOTFOUND || c == upload.ECONFLICT {
			return err
		}
		return fmt.Errorf("sqlstore: mark ready %s: %w", u.ID, err)
	}
	u.Status = upload.StatusReady
	u.ErrorCode, u.ErrorMessage = "", ""
	u.UpdatedAt = now
	u.ProcessedAt = &processed
	for i := range u.Variants {
		u.Variants[i].UploadID = u.ID
	}
	return nil
}

// MarkFailed sets the upload failed with a code and a message a person can
// read, or returns ENOTFOUND.
func (d *DB) MarkFailed(ctx context.Context, id, code, message string) (err error) {
	defer classifyErr(&err)
	res, err := d.db.ExecContext(ctx, `UPDATE uploads
		SET status = $2, error_code = $3, error_message = $4, updated_at = $5
		WHERE id = $1`,
		id, string(upload.StatusFailed), code, message, millis(d.clock()))
	if err != nil {
		return fmt.Errorf("sqlstore: mark failed %s: %w", id, err)
	}
	return d.changed(res, id, "mark failed")
}

// BumpVersion increments the upload's version for a new processing run
// and returns the new value, or ENOTFOUND. It is one statement, so
// concurrent runs each get their own version.
func (d *DB) BumpVersion(ctx context.Context, id string) (_ int, err error) {
	defer classifyErr(&err)
	var version int
	err = d.db.QueryRowContext(ctx, `UPDATE uploads SET version = version + 1, updated_at = $2
		WHERE id = $1 RETURNING version`, id, millis(d.clock())).Scan(&version)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, notFound(id)
	} else if err != nil {
		return 0, fmt.Errorf("sqlstore: bump version %s: %w", id, err)
	}
	return version, nil
}

// DeleteUpload removes the upload and, by cascade, its variants, or
// returns ENOTFOUND.
func (d *DB) DeleteUpload(ctx context.Context, id string) (err error) {
	defer classifyErr(&err)
	res, err := d.db.ExecContext(ctx, `DELETE FROM uploads WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("sqlstore: delete upload %s: %w", id, err)
	}
	return d.changed(res, id, "delete upload")
}

// changed turns an UPDATE or DELETE of one upload that touched no row into
// ENOTFOUND.
func (d *DB) changed(res sql.Result, id, op string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlstore: %s %s: %w", op, id, err)
	}
	if n == 0 {
		return notFound(id)
	}
	return nil
}

// exists returns nil if the upload exists and ENOTFOUND if not.
func (d *DB) exists(ctx context.Context, id string) error {
	var one int
	err := d.db.QueryRowContext(ctx, `SELECT 1 FROM uploads WHERE id = $1`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound(id)
	} else if err != nil {
		return fmt.Errorf("sqlstore: upload %s: %w", id, err)
	}
	return nil
}

// inTx runs fn in a transaction, committing if it returns nil.
func (d *DB) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// scanWithVariants reads uploads from rows, closes them, then loads the
// variants of all of them in one query.
func (d *DB) scanWithVariants(ctx context.Context, rows *sql.Rows) ([]*upload.Upload, error) {
	defer rows.Close()
	var (
		us   []*upload.Upload
		byID = map[string]*upload.Upload{}
	)
	for rows.Next() {
		var (
			u                         upload.Upload
			status                    string
			created, updated, expires int64
			processed                 sql.NullInt64
		)
		if err := rows.Scan(&u.ID, &u.Profile, &u.Owner, &u.Filename, &u.DeclaredType, &u.DeclaredBytes,
			&u.ContentType, &u.Bytes, &status, &u.ErrorCode, &u.ErrorMessage, &u.Width, &u.Height,
			&u.Blurhash, &u.Version, &u.Attempts, &created, &updated, &expires, &processed); err != nil {
			return nil, err
		}
		u.Status = upload.Status(status)
		u.CreatedAt, u.UpdatedAt, u.ExpiresAt = fromMillis(created), fromMillis(updated), fromMillis(expires)
		if processed.Valid {
			t := fromMillis(processed.Int64)
			u.ProcessedAt = &t
		}
		us = append(us, &u)
		byID[u.ID] = &u
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Free the connection before the next query: with a small pool, holding
	// it could wait on ourselves.
	rows.Close()
	if len(us) == 0 {
		return us, nil
	}

	ph := make([]string, len(us))
	args := make([]any, len(us))
	for i, u := range us {
		ph[i] = fmt.Sprintf("$%d", i+1)
		args[i] = u.ID
	}
	vrows, err := d.db.QueryContext(ctx, `SELECT upload_id, name, object_key, content_type, width, height, bytes, original_bytes
		FROM variants WHERE upload_id IN (`+strings.Join(ph, ", ")+`) ORDER BY upload_id, name`, args...)
	if err != nil {
		return nil, fmt.Errorf("variants: %w", err)
	}
	defer vrows.Close()
	for vrows.Next() {
		var v upload.Variant
		if err := vrows.Scan(&v.UploadID, &v.Name, &v.Key, &v.ContentType, &v.Width, &v.Height, &v.Bytes, &v.OriginalBytes); err != nil {
			return nil, fmt.Errorf("variants: %w", err)
		}
		u := byID[v.UploadID]
		u.Variants = append(u.Variants, v)
	}
	if err := vrows.Err(); err != nil {
		return nil, fmt.Errorf("variants: %w", err)
	}
	return us, nil
}

func notFound(id string) error {
	return upload.Errorf(upload.ENOTFOUND, "Upload %s was not found.", id)
}

func clampLimit(limit int) int {
	switch {
	case limit <= 0:
		return DefaultLimit
	case limit > MaxLimit:
		return MaxLimit
	}
	return limit
}

// clock returns the current time in UTC, to the millisecond the database
// keeps, so a value set here equals the one read back.
func (d *DB) clock() time.Time { return d.now().UTC().Truncate(time.Millisecond) }

// millis turns a time into stored Unix milliseconds; the zero time is 0.
func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMillis is the inverse of millis, in UTC.
func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
