package main

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"

	"uploader/internal/sqlstore"
)

// TestRestartFinishesProcessing: `uploader dev` keeps its queue in memory,
// so a restart loses queued jobs. An upload left in processing must still
// end ready after the restart, through the start-up reconcile.
func TestRestartFinishesProcessing(t *testing.T) {
	dir := t.TempDir()
	// No bucket events: this is the client-driven path, where the row stays
	// pending until complete (the gateway's event would mark it first).
	env := map[string]string{"DATA_DIR": dir, "API_TOKENS": "tok", "ALLOW_ANONYMOUS": "false", "DEV_S3_EVENTS": "false"}

	// First life: the file reaches S3, then the process dies before the
	// complete call is handled (simulated by marking the row processing
	// behind the app's back while it is down).
	first := startApp(t, env)
	img := photo(t, 600, 400)
	p := first.presign(t, "a.jpg", "image/jpeg", len(img), "avatar")
	if st, body := postToS3(t, p.Upload.URL, p.Upload.Fields, "image/jpeg", img); st != http.StatusCreated {
		t.Fatalf("S3: %d %s", st, body)
	}
	first.stop()

	db, err := sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(dir, "uploader.db"))
	if err != nil {
		t.Fatal(err)
	}
	if changed, err := db.MarkProcessing(context.Background(), p.ID, "image/jpeg", int64(len(img))); err != nil || !changed {
		t.Fatalf("mark processing: %v %v", changed, err)
	}
	db.Close()

	second := startApp(t, env)
	if s := second.waitDone(t, p.ID); s.Status != "ready" || len(s.Variants) == 0 {
		t.Fatalf("after restart: %s %+v", s.Status, s.Error)
	}
}
