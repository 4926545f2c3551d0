package sqlstore

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"uploader/internal/upload"
)

// TestStore runs the upload.Store contract against every backend.
func TestStore(t *testing.T) {
	tests := []struct {
		name string
		fn   func(t *testing.T, d *DB)
	}{
		{"create and get", testCreateGet},
		{"not found", testNotFound},
		{"list pages newest first", testList},
		{"mark processing once", testMarkProcessing},
		{"mark processing race", testMarkProcessingRace},
		{"only transient failures are retried", testRetryOnlyTransient},
		{"mark ready replaces variants", testMarkReady},
		{"mark ready only for the newest run", testMarkReadyVersion},
		{"mark failed", testMarkFailed},
		{"bump version", testBumpVersion},
		{"delete cascades", testDelete},
		{"uploads by status", testUploadsByStatus},
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

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// newUpload returns a pending upload made at the given time.
func newUpload(owner string, at time.Time) *upload.Upload {
	return &upload.Upload{
		ID: upload.NewID(at), Profile: "photo", Owner: owner, Filename: "cat <1>.jpg",
		DeclaredType: "image/jpeg", DeclaredBytes: 12345, Status: upload.StatusPending,
		CreatedAt: at, UpdatedAt: at, ExpiresAt: at.Add(10 * time.Minute),
	}
}

func create(t *testing.T, d *DB, u *upload.Upload) *upload.Upload {
	t.Helper()
	if err := d.CreateUpload(context.Background(), u); err != nil {
		t.Fatalf("CreateUpload: %v", err)
	}
	return u
}

func get(t *testing.T, d *DB, id string) *upload.Upload {
	t.Helper()
	u, err := d.Upload(context.Background(), id)
	if err != nil {
		t.Fatalf("Upload(%s): %v", id, err)
	}
	return u
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := upload.ErrorCode(err); got != code {
		t.Errorf("%s: error %v (code %q), want code %q", what, err, got, code)
	}
}

func variants(names ...string) []upload.Variant {
	var vs []upload.Variant
	for i, n := range names {
		vs = append(vs, upload.Variant{
			Name: n, Key: "variants/x/1/" + n, ContentType: "image/webp",
			Width: 100 * (i + 1), Height: 50 * (i + 1), Bytes: int64(1000 + i), OriginalBytes: int64(2000 + i),
		})
	}
	return vs
}

func testCreateGet(t *testing.T, d *DB) {
	ctx := context.Background()
	processed := t0.Add(time.Minute)
	full := newUpload("alice", t0)
	full.ContentType, full.Bytes = "image/jpeg", 12000
	full.ErrorCode, full.ErrorMessage = "x", "y"
	full.Width, full.Height, full.Blurhash, full.Version = 640, 480, "LEHV6nWB2yk8", 3
	full.UpdatedAt, full.ProcessedAt = t0.Add(time.Second), &processed
	create(t, d, full)
	if got := get(t, d, full.ID); !reflect.DeepEqual(got, full) {
		t.Errorf("read back\n %+v\nwant\n %+v", got, full)
	}

	before := time.Now().Truncate(time.Millisecond)
	bare := create(t, d, &upload.Upload{ID: upload.NewID(time.Now()), Profile: "avatar", Owner: "bob"})
	got := get(t, d, bare.ID)
	if got.Status != upload.StatusPending || got.CreatedAt.Before(before) || !got.UpdatedAt.Equal(got.CreatedAt) ||
		!got.ExpiresAt.IsZero() || got.ProcessedAt != nil || got.Variants != nil {
		t.Errorf("defaults: got %+v", got)
	}
	if !reflect.DeepEqual(got, bare) {
		t.Errorf("CreateUpload's defaults differ from what was stored:\n %+v\n %+v", bare, got)
	}

	wantCode(t, "second CreateUpload with the same ID", d.CreateUpload(ctx, newUploadWithID(full.ID)), upload.ECONFLICT)
	if got := get(t, d, full.ID); got.Owner != "alice" {
		t.Errorf("conflicting create overwrote the row: owner %q", got.Owner)
	}
}

func newUploadWithID(id string) *upload.Upload {
	u := newUpload("mallory", t0)
	u.ID = id
	return u
}

func testNotFound(t *testing.T, d *DB) {
	ctx := context.Background()
	id := upload.NewID(time.Now())
	create(t, d, newUpload("alice", t0)) // another upload must not be found instead
	_, err := d.Upload(ctx, id)
	wantCode(t, "Upload", err, upload.ENOTFOUND)
	if want := "Upload " + id + " was not found."; upload.ErrorMessage(err) != want {
		t.Errorf("message %q, want %q", upload.ErrorMessage(err), want)
	}
	_, err = d.MarkProcessing(ctx, id, "image/png", 1)
	wantCode(t, "MarkProcessing", err, upload.ENOTFOUND)
	wantCode(t, "MarkReady", d.MarkReady(ctx, &upload.Upload{ID: id, Variants: variants("a")}), upload.ENOTFOUND)
	wantCode(t, "MarkFailed", d.MarkFailed(ctx, id, upload.ECORRUPT, "broken"), upload.ENOTFOUND)
	_, err = d.BumpVersion(ctx, id)
	wantCode(t, "BumpVersion", err, upload.ENOTFOUND)
	wantCode(t, "DeleteUpload", d.DeleteUpload(ctx, id), upload.ENOTFOUND)
	if n := count(t, d, "variants"); n != 0 {
		t.Errorf("MarkReady of a missing upload left %d variants", n)
	}
}

func testList(t *testing.T, d *DB) {
	ctx := context.Background()
	var want []string // alice's IDs, newest first
	for i := range 7 {
		u := create(t, d, newUpload("alice", t0.Add(time.Duration(i)*time.Second)))
		want = append([]string{u.ID}, want...)
		create(t, d, newUpload(fmt.Sprint("bob", i), t0.Add(time.Duration(i)*time.Second)))
	}
	// Variants come with the page, each on its own upload.
	for i, id := range []string{want[1], want[4]} {
		if err := d.MarkReady(ctx, &upload.Upload{ID: id, Variants: variants(fmt.Sprint("v", i, "b"), fmt.Sprint("v", i, "a"))}); err != nil {
			t.Fatal(err)
		}
	}

	var got []string
	cursor := ""
	for page := 0; ; page++ {
		us, err := d.ListUploads(ctx, "alice", cursor, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(us) > 3 {
			t.Fatalf("page %d has %d uploads, limit 3", page, len(us))
		}
		if len(us) == 0 {
			break
		}
		for _, u := range us {
			got = append(got, u.ID)
			if u.Owner != "alice" {
				t.Errorf("listed %s of owner %q", u.ID, u.Owner)
			}
			switch u.ID {
			case want[1]:
				checkVariantNames(t, u, "v0a", "v0b")
			case want[4]:
				checkVariantNames(t, u, "v1a", "v1b")
			default:
				checkVariantNames(t, u)
			}
		}
		cursor = us[len(us)-1].ID
		if page > 5 {
			t.Fatal("paging does not end")
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages gave\n %v\nwant newest first\n %v", got, want)
	}
	if us, err := d.ListUploads(ctx, "alice", "", 0); err != nil || len(us) != 7 {
		t.Errorf("limit 0 gave %d uploads (%v), want the default limit", len(us), err)
	}
	if us, err := d.ListUploads(ctx, "nobody", "", 10); err != nil || len(us) != 0 {
		t.Errorf("unknown owner: %d uploads, %v", len(us), err)
	}
}

func checkVariantNames(t *testing.T, u *upload.Upload, names ...string) {
	t.Helper()
	var got []string
	for _, v := range u.Variants {
		got = append(got, v.Name)
		if v.UploadID != u.ID {
			t.Errorf("variant %s of %s has UploadID %s", v.Name, u.ID, v.UploadID)
		}
	}
	if !slices.Equal(got, names) {
		t.Errorf("upload %s variants %v, want %v", u.ID, got, names)
	}
}

func testMarkProcessing(t *testing.T, d *DB) {
	ctx := context.Background()
	u := create(t, d, newUpload("alice", t0))
	start := time.Now().Truncate(time.Millisecond)
	step := func(what string, wantChanged bool, wantStatus upload.Status) {
		t.Helper()
		changed, err := d.MarkProcessing(ctx, u.ID, "image/png", 999)
		if err != nil || changed != wantChanged {
			t.Fatalf("%s: MarkProcessing = %v, %v; want %v", what, changed, err, wantChanged)
		}
		if got := get(t, d, u.ID); got.Status != wantStatus {
			t.Fatalf("%s: status %q, want %q", what, got.Status, wantStatus)
		}
	}
	step("pending", true, upload.StatusProcessing)
	got := get(t, d, u.ID)
	if got.ContentType != "image/png" || got.Bytes != 999 || got.UpdatedAt.Before(start) {
		t.Errorf("after MarkProcessing: content type %q, bytes %d, updated %v (was %v)", got.ContentType, got.Bytes, got.UpdatedAt, u.UpdatedAt)
	}
	step("processing", false, upload.StatusProcessing)
	if err := d.MarkFailed(ctx, u.ID, upload.EUNAVAILABLE, "Storage did not answer."); err != nil {
		t.Fatal(err)
	}
	step("failed (transient)", true, upload.StatusProcessing)
	if got := get(t, d, u.ID); got.ErrorCode != "" || got.ErrorMessage != "" || got.Attempts != 2 {
		t.Errorf("retry kept the old error %q %q, or counted %d attempts (want 2)", got.ErrorCode, got.ErrorMessage, got.Attempts)
	}
	if err := d.MarkReady(ctx, &upload.Upload{ID: u.ID}); err != nil {
		t.Fatal(err)
	}
	step("ready", false, upload.StatusReady)
}

// testRetryOnlyTransient: a final failure (not an image, too many pixels,
// corrupt...) is never re-opened, and a transient one only until the
// upload has had upload.MaxAttempts runs.
func testRetryOnlyTransient(t *testing.T, d *DB) {
	ctx := context.Background()
	codes := []string{upload.ECONFLICT, upload.EINTERNAL, upload.EINVALID, upload.ENOTFOUND,
		upload.ETOOLARGE, upload.EUNSUPPORTED, upload.ECORRUPT, upload.ETOOMANYPX, upload.EUNAVAILABLE, upload.EEXPIRED}
	for i, code := range codes {
		u := create(t, d, newUpload("alice", t0.Add(time.Duration(i)*time.Second)))
		if changed, err := d.MarkProcessing(ctx, u.ID, "image/jpeg", 1); err != nil || !changed {
			t.Fatalf("%s: first run: %v %v", code, changed, err)
		}
		runs := 1
		for {
			if err := d.MarkFailed(ctx, u.ID, code, "why"); err != nil {
				t.Fatal(err)
			}
			changed, err := d.MarkProcessing(ctx, u.ID, "image/jpeg", 1)
			if err != nil {
				t.Fatalf("%s: %v", code, err)
			}
			if !changed {
				break
			}
			runs++
			if runs > upload.MaxAttempts {
				t.Fatalf("%s: re-opened for run %d, beyond MaxAttempts %d", code, runs, upload.MaxAttempts)
			}
		}
		want := 1
		if upload.Retryable(code) {
			want = upload.MaxAttempts
		}
		got := get(t, d, u.ID)
		if runs != want || got.Attempts != want || got.Status != upload.StatusFailed || got.ErrorCode != code {
			t.Errorf("%s: %d runs, %d attempts recorded, status %s %q; want %d runs and still failed with its code",
				code, runs, got.Attempts, got.Status, got.ErrorCode, want)
		}
	}
}

func testMarkProcessingRace(t *testing.T, d *DB) {
	ctx := context.Background()
	for round := range 3 {
		u := create(t, d, newUpload("alice", t0.Add(time.Duration(round)*time.Second)))
		var (
			wins  atomic.Int32
			wg    sync.WaitGroup
			start = make(chan struct{})
			errs  = make(chan error, 50)
		)
		for range 50 {
			wg.Go(func() {
				<-start
				changed, err := d.MarkProcessing(ctx, u.ID, "image/jpeg", 42)
				if err != nil {
					errs <- err
				}
				if changed {
					wins.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if n := wins.Load(); n != 1 {
			t.Errorf("round %d: %d of 50 concurrent MarkProcessing calls won, want exactly 1", round, n)
		}
	}
}

func testMarkReady(t *testing.T, d *DB) {
	ctx := context.Background()
	u := create(t, d, newUpload("alice", t0))
	other := create(t, d, newUpload("alice", t0.Add(time.Second)))
	if err := d.MarkReady(ctx, &upload.Upload{ID: other.ID, Variants: variants("keep")}); err != nil {
		t.Fatal(err)
	}
	if err := d.MarkFailed(ctx, u.ID, "transient", "S3 was slow."); err != nil {
		t.Fatal(err)
	}

	first := &upload.Upload{ID: u.ID, ContentType: "image/jpeg", Width: 4000, Height: 3000, Blurhash: "L00000", Variants: variants("w320.jpg", "w1024.jpg", "thumb150.jpg")}
	before := time.Now().Truncate(time.Millisecond)
	if err := d.MarkReady(ctx, first); err != nil {
		t.Fatal(err)
	}
	got := get(t, d, u.ID)
	if got.Status != upload.StatusReady || got.Width != 4000 || got.Height != 3000 || got.Blurhash != "L00000" ||
		got.ContentType != "image/jpeg" || got.ErrorCode != "" || got.ErrorMessage != "" ||
		got.ProcessedAt == nil || got.ProcessedAt.Before(before) || got.Owner != "alice" || got.Filename != u.Filename {
		t.Errorf("after MarkReady: %+v", got)
	}
	if first.ProcessedAt == nil || !first.ProcessedAt.Equal(*got.ProcessedAt) || first.Status != upload.StatusReady {
		t.Errorf("MarkReady did not report what it stored: %+v", first)
	}
	checkVariantNames(t, got, "thumb150.jpg", "w1024.jpg", "w320.jpg")
	want := variants("w320.jpg", "w1024.jpg", "thumb150.jpg")
	for _, v := range got.Variants {
		i := slices.IndexFunc(want, func(w upload.Variant) bool { return w.Name == v.Name })
		w := want[i]
		w.UploadID = u.ID
		if v != w {
			t.Errorf("variant read back %+v, want %+v", v, w)
		}
	}

	second := &upload.Upload{ID: u.ID, ContentType: "image/png", Width: 10, Height: 20, Variants: variants("s64.png", "w320.jpg")}
	if err := d.MarkReady(ctx, second); err != nil {
		t.Fatal(err)
	}
	got = get(t, d, u.ID)
	checkVariantNames(t, got, "s64.png", "w320.jpg")
	if got.Width != 10 || got.ContentType != "image/png" || got.Blurhash != "" {
		t.Errorf("second MarkReady: %+v", got)
	}
	checkVariantNames(t, get(t, d, other.ID), "keep")

	// A failing insert (duplicate name) leaves the earlier state whole.
	bad := &upload.Upload{ID: u.ID, Width: 1, Variants: variants("dup", "dup")}
	if err := d.MarkReady(ctx, bad); err == nil {
		t.Fatal("MarkReady with two variants of one name succeeded")
	}
	got = get(t, d, u.ID)
	checkVariantNames(t, got, "s64.png", "w320.jpg")
	if got.Width != 10 {
		t.Errorf("failed MarkReady changed width to %d", got.Width)
	}
}

func testMarkFailed(t *testing.T, d *DB) {
	ctx := context.Background()
	u := create(t, d, newUpload("alice", t0))
	start := time.Now().Truncate(time.Millisecond)
	if err := d.MarkFailed(ctx, u.ID, upload.ETOOMANYPX, "The image has more than 50 megapixels."); err != nil {
		t.Fatal(err)
	}
	got := get(t, d, u.ID)
	if got.Status != upload.StatusFailed || got.ErrorCode != upload.ETOOMANYPX || got.ErrorMessage != "The image has more than 50 megapixels." {
		t.Errorf("after MarkFailed: status %q code %q message %q", got.Status, got.ErrorCode, got.ErrorMessage)
	}
	if got.UpdatedAt.Before(start) {
		t.Errorf("updated_at %v not moved to now (%v)", got.UpdatedAt, start)
	}
}

func testBumpVersion(t *testing.T, d *DB) {
	ctx := context.Background()
	u := create(t, d, newUpload("alice", t0))
	for want := 1; want <= 3; want++ {
		if v, err := d.BumpVersion(ctx, u.ID); err != nil || v != want {
			t.Fatalf("BumpVersion = %d, %v; want %d", v, err, want)
		}
	}
	var (
		mu   sync.Mutex
		seen []int
		wg   sync.WaitGroup
	)
	for range 20 {
		wg.Go(func() {
			v, err := d.BumpVersion(ctx, u.ID)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			seen = append(seen, v)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(seen)
	for i, v := range seen {
		if v != 4+i {
			t.Fatalf("concurrent bumps returned %v, want 4..23 each once", seen)
		}
	}
	if got := get(t, d, u.ID); got.Version != 23 {
		t.Errorf("stored version %d, want 23", got.Version)
	}
}

func testDelete(t *testing.T, d *DB) {
	ctx := context.Background()
	u := create(t, d, newUpload("alice", t0))
	keep := create(t, d, newUpload("alice", t0.Add(time.Second)))
	for _, id := range []string{u.ID, keep.ID} {
		if err := d.MarkReady(ctx, &upload.Upload{ID: id, Variants: variants("a", "b", "c")}); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.DeleteUpload(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	_, err := d.Upload(ctx, u.ID)
	wantCode(t, "Upload after delete", err, upload.ENOTFOUND)
	wantCode(t, "second delete", d.DeleteUpload(ctx, u.ID), upload.ENOTFOUND)
	if n := count(t, d, "variants WHERE upload_id = '"+u.ID+"'"); n != 0 {
		t.Errorf("%d variants of the deleted upload remain", n)
	}
	checkVariantNames(t, get(t, d, keep.ID), "a", "b", "c")
}

func testUploadsByStatus(t *testing.T, d *DB) {
	ctx := context.Background()
	at := func(min int, status upload.Status) *upload.Upload {
		u := newUpload("alice", t0.Add(time.Duration(min)*time.Minute))
		u.Status = status
		u.UpdatedAt = t0.Add(time.Duration(min) * time.Minute)
		return create(t, d, u)
	}
	old2 := at(2, upload.StatusProcessing)
	old1 := at(1, upload.StatusProcessing)
	at(3, upload.StatusPending)
	at(30, upload.StatusProcessing) // too recent
	if err := d.MarkReady(ctx, &upload.Upload{ID: old1.ID, Variants: variants("x")}); err != nil {
		t.Fatal(err)
	}
	old1b := at(0, upload.StatusProcessing)

	us, err := d.UploadsByStatus(ctx, upload.StatusProcessing, t0.Add(10*time.Minute), 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, u := range us {
		ids = append(ids, u.ID)
	}
	if want := []string{old1b.ID, old2.ID}; !slices.Equal(ids, want) {
		t.Errorf("stuck processing: %v, want oldest first %v", ids, want)
	}
	if us, _ := d.UploadsByStatus(ctx, upload.StatusProcessing, t0.Add(10*time.Minute), 1); len(us) != 1 || us[0].ID != old1b.ID {
		t.Errorf("limit 1 gave %d uploads", len(us))
	}
	us, err = d.UploadsByStatus(ctx, upload.StatusReady, time.Now().Add(time.Minute), 10)
	if err != nil || len(us) != 1 || us[0].ID != old1.ID {
		t.Fatalf("ready: %v, %v", us, err)
	}
	checkVariantNames(t, us[0], "x")
}

func count(t *testing.T, d *DB, from string) int {
	t.Helper()
	var n int
	if err := d.db.QueryRow("SELECT count(*) FROM " + from).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// testMarkReadyVersion: when two runs overlap, only the newest version
// may mark the upload ready; the stale one gets ECONFLICT.
func testMarkReadyVersion(t *testing.T, d *DB) {
	ctx := context.Background()
	u := create(t, d, newUpload("o", t0))
	v1, err := d.BumpVersion(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := d.BumpVersion(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	stale := get(t, d, u.ID)
	stale.Version, stale.Variants = v1, variants("old.jpg")
	wantCode(t, "stale run", d.MarkReady(ctx, stale), upload.ECONFLICT)
	if got := get(t, d, u.ID); got.Status == upload.StatusReady || len(got.Variants) != 0 {
		t.Errorf("stale run changed the row: %s with %d variants", got.Status, len(got.Variants))
	}
	fresh := get(t, d, u.ID)
	fresh.Version, fresh.Variants = v2, variants("new.jpg")
	if err := d.MarkReady(ctx, fresh); err != nil {
		t.Fatalf("newest run: %v", err)
	}
	checkVariantNames(t, get(t, d, u.ID), "new.jpg")
}
