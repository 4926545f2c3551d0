package main

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"uploader/internal/sqlstore"
	"uploader/internal/upload"
)

// TestRestartFinishesProcessing: `uploader dev` keeps its queue in memory,
// so a restart loses queued jobs. An upload left in processing must still
// end ready after the restart, through the start-up reconcile.
func TestRestartFinishesProcessing(t *testing.T) {
	dir := t.TempDir()
	// No bucket events: this is the client-driven path, where the row stays
	// absent until complete (the gateway's event would make it first).
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
	// A single POST has no row until complete makes it from the object's
	// metadata; the dying process got that far, so make the row as it
	// does, from the metadata the signed policy made S3 keep.
	meta := map[string]string{}
	for k, v := range p.Upload.Fields {
		if name, ok := strings.CutPrefix(k, "x-amz-meta-"); ok {
			meta[name] = v
		}
	}
	u, ok := upload.FromObject(p.ID, meta, int64(len(img)), "image/jpeg", time.Now())
	if !ok {
		t.Fatalf("the policy's fields carry no upload metadata: %v", p.Upload.Fields)
	}
	if err := db.CreateUpload(context.Background(), u); err != nil {
		t.Fatalf("create row: %v", err)
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
