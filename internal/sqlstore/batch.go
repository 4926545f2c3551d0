package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"

	"uploader/internal/upload"
)

// maxBatch bounds one group commit: 64 rows × 20 columns stays far below
// both databases' limits on bind parameters.
const maxBatch = 64

// batcher group-commits inserts. One goroutine takes the first waiting
// insert, adds whatever else is already waiting (it never sleeps to
// collect more, so a lone insert is not delayed), and writes them in one
// statement. Under load many presigns share a transaction; at rest each
// insert is its own.
type batcher struct {
	once     sync.Once
	stopOnce sync.Once
	stmts    map[int]*sql.Stmt // prepared INSERT per batch size; only the loop touches it
	reqs     chan insertReq
	quit     chan struct{}
	done     chan struct{}
}

type insertReq struct {
	u    *upload.Upload
	errc chan error
}

func (b *batcher) start(d *DB) {
	b.once.Do(func() {
		b.reqs = make(chan insertReq, 4*maxBatch)
		b.quit = make(chan struct{})
		b.done = make(chan struct{})
		b.stmts = map[int]*sql.Stmt{}
		go b.loop(d)
	})
}

// stop ends the goroutine; safe to call more than once.
func (b *batcher) stop() {
	b.once.Do(func() {}) // a batcher never started stays stopped
	b.stopOnce.Do(func() {
		if b.quit != nil {
			close(b.quit)
			<-b.done
		}
	})
}

func (b *batcher) insert(ctx context.Context, d *DB, u *upload.Upload) error {
	b.start(d)
	r := insertReq{u: u, errc: make(chan error, 1)}
	select {
	case b.reqs <- r:
	case <-b.quit:
		return fmt.Errorf("sqlstore: create upload %s: database closed", u.ID)
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.errc:
		return err
	case <-ctx.Done():
		return ctx.Err() // the row may still be written; the reconciler expires it
	}
}

func (b *batcher) loop(d *DB) {
	defer close(b.done)
	defer func() {
		for _, st := range b.stmts {
			st.Close()
		}
	}()
	for {
		var first insertReq
		select {
		case first = <-b.reqs:
		case <-b.quit:
			return
		}
		batch := []insertReq{first}
	drain:
		for len(batch) < maxBatch {
			select {
			case r := <-b.reqs:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		d.insertBatch(b.stmt(d, len(batch)), batch)
	}
}

// stmt returns the prepared INSERT for n rows; parsing a statement of
// a thousand parameters costs more than running it. A failed prepare
// returns nil, and insertBatch then runs the text directly.
func (b *batcher) stmt(d *DB, n int) *sql.Stmt {
	if st, ok := b.stmts[n]; ok {
		return st
	}
	st, err := d.db.Prepare(insertSQL(d.dialect, n))
	if err != nil {
		return nil
	}
	b.stmts[n] = st
	return st
}

// insertSQL is the INSERT of n rows, returning the IDs it wrote.
func insertSQL(dialect string, n int) string {
	var sb strings.Builder
	sb.WriteString("INSERT INTO uploads (" + uploadColumns + ") VALUES ")
	for i := 0; i < n; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteByte('(')
		for c := 0; c < uploadColumnCount; c++ {
			if c > 0 {
				sb.WriteByte(',')
			}
			if dialect == DialectSQLite {
				// Plain ? avoids SQLite's lookup of each $N by name, which
				// grows with the square of the parameter count.
				sb.WriteByte('?')
			} else {
				fmt.Fprintf(&sb, "$%d", i*uploadColumnCount+c+1)
			}
		}
		sb.WriteByte(')')
	}
	sb.WriteString(" ON CONFLICT (id) DO NOTHING RETURNING id")
	return sb.String()
}

// insertBatch writes the batch in one statement. Rows whose ID exists
// already are skipped by ON CONFLICT and reported as ECONFLICT; if the
// statement fails as a whole, every caller gets the error.
func (d *DB) insertBatch(st *sql.Stmt, batch []insertReq) {
	ctx := context.Background()
	args := make([]any, 0, len(batch)*uploadColumnCount)
	for _, r := range batch {
		u := r.u
		var processed sql.NullInt64
		if u.ProcessedAt != nil {
			processed = sql.NullInt64{Int64: millis(*u.ProcessedAt), Valid: true}
		}
		args = append(args, u.ID, u.Profile, u.Owner, u.Filename, u.DeclaredType, u.DeclaredBytes, u.ContentType, u.Bytes,
			string(u.Status), u.ErrorCode, u.ErrorMessage, u.Width, u.Height, u.Blurhash, u.Version, u.Attempts,
			millis(u.CreatedAt), millis(u.UpdatedAt), millis(u.ExpiresAt), processed)
	}
	var rows *sql.Rows
	var err error
	if st != nil {
		rows, err = st.QueryContext(ctx, args...)
	} else {
		rows, err = d.db.QueryContext(ctx, insertSQL(d.dialect, len(batch)), args...)
	}
	inserted := map[string]bool{}
	if err == nil {
		for rows.Next() {
			var id string
			if err = rows.Scan(&id); err != nil {
				break
			}
			inserted[id] = true
		}
		if err == nil {
			err = rows.Err()
		}
		rows.Close()
	}
	for _, r := range batch {
		switch {
		case err != nil:
			r.errc <- fmt.Errorf("sqlstore: create upload %s: %w", r.u.ID, err)
		case !inserted[r.u.ID]:
			r.errc <- upload.Errorf(upload.ECONFLICT, "Upload %s already exists.", r.u.ID)
		default:
			r.errc <- nil
		}
	}
}
