package jobs

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"testing"
	"time"

	"uploader/internal/s3store"
	"uploader/internal/upload"
)

// postWithPolicy uploads data to incoming/{id} the way a browser does, with
// a POST policy that signs the upload's metadata.
func postWithPolicy(t *testing.T, u *upload.Upload, data []byte) {
	t.Helper()
	pp, err := s3.PresignPost(context.Background(), s3store.PostPolicy{Key: upload.IncomingKey(u.ID), ContentType: "image/jpeg",
		MaxBytes: 1 << 20, Expires: time.Minute, Metadata: upload.ObjectMeta(u)})
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, f := range pp.Fields {
		mw.WriteField(f.Name, f.Value)
	}
	fw, _ := mw.CreateFormFile("file", "a.jpg")
	fw.Write(data)
	mw.Close()
	resp, err := http.Post(pp.URL, mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST to S3: %d", resp.StatusCode)
	}
}

// TestReconcileCompletesRowlessUpload: a single POST has no row until its
// file arrives. When its client never calls complete (and no bucket event
// came), the reconciler records it from the object's metadata and queues
// its job instead of deleting it as an orphan; an object without our
// metadata is still an orphan. Nothing happens before Grace, so a client
// completing normally is not raced.
func TestReconcileCompletesRowlessUpload(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	now := time.Now()
	sent := &upload.Upload{ID: upload.NewID(now), Owner: "t_test", User: "ann", Profile: "avatar", Filename: "me.jpg"}
	postWithPolicy(t, sent, jpegBytes(t, 64, 48))
	stray := upload.IncomingKey(upload.NewID(now))
	if err := s3.Put(ctx, stray, []byte("stray"), "image/jpeg", ""); err != nil {
		t.Fatal(err)
	}

	r := &Reconciler{Store: e.db, Objects: s3, Enqueuer: e.enq, Profiles: e.profs, Logger: e.log, Now: func() time.Time { return now }}
	if rep, err := r.Run(ctx); err != nil || rep.Completed != 0 {
		t.Fatalf("pass within Grace: %+v %v, want nothing completed", rep, err)
	}
	if _, err := e.db.Upload(ctx, sent.ID); upload.ErrorCode(err) != upload.ENOTFOUND {
		t.Fatalf("a row was made within Grace: %v", err)
	}

	r.Now = func() time.Time { return now.Add(2 * time.Hour) } // past Grace and OrphanAge
	rep, err := r.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Completed != 1 {
		t.Errorf("report %+v, want the row-less upload completed", rep)
	}
	u, err := e.db.Upload(ctx, sent.ID)
	if err != nil {
		t.Fatalf("no row for the arrived file: %v", err)
	}
	if u.Status != upload.StatusProcessing || u.Owner != "t_test" || u.User != "ann" || u.Filename != "me.jpg" || u.Profile != "avatar" {
		t.Errorf("row made from the object: %+v", u)
	}
	if !e.enq.Live(ctx, sent.ID, e.profs["avatar"]) {
		t.Error("no job queued for the recorded upload")
	}
	if _, err := s3.Head(ctx, upload.IncomingKey(sent.ID)); err != nil {
		t.Errorf("the arrived file was deleted: %v", err)
	}
	if _, err := s3.Head(ctx, stray); upload.ErrorCode(err) != upload.ENOTFOUND {
		t.Errorf("the object without our metadata was kept: %v", err)
	}
	if rep, err := r.Run(ctx); err != nil || rep.Completed != 0 {
		t.Errorf("second pass: %+v %v, want nothing more", rep, err)
	}
}
