package jobs

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"uploader/internal/s3store"
	"uploader/internal/upload"
)

// newMultipart makes a pending multipart upload with S3's upload started
// and its first part stored.
func (e *env) newMultipart(t *testing.T, created time.Time, expires time.Duration, withRow bool) (id, s3ID string) {
	return e.newMultipartOf(t, created, expires, withRow, 20<<20)
}

func (e *env) newMultipartOf(t *testing.T, created time.Time, expires time.Duration, withRow bool, declared int64) (id, s3ID string) {
	t.Helper()
	ctx := context.Background()
	id = upload.NewID(created)
	s3ID, err := s3.CreateMultipart(ctx, upload.IncomingKey(id), "image/jpeg")
	if err != nil {
		t.Fatal(err)
	}
	url, err := s3.PresignPart(ctx, upload.IncomingKey(id), s3ID, 1, 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPut, url, bytes.NewReader([]byte("0123456789")))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("part: %v %v", resp, err)
	}
	resp.Body.Close()
	if withRow {
		u := &upload.Upload{
			ID: id, Profile: "avatar", Owner: "t_test", Filename: "a.jpg", DeclaredType: "image/jpeg",
			DeclaredBytes: declared, Status: upload.StatusPending, CreatedAt: created, UpdatedAt: created,
			ExpiresAt: created.Add(expires), MultipartID: s3ID, PartSize: 8 << 20,
		}
		if err := e.db.CreateUpload(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	return id, s3ID
}

// TestReconcileAbortsMultipart: parts of an expired upload, and of an
// upload whose row is gone, are aborted (found with ListMultipartUploads);
// an upload still within its resume window keeps its parts.
func TestReconcileAbortsMultipart(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	now := time.Now()
	later := now.Add(2 * time.Hour) // the reconciler's clock: everything is older than OrphanAge

	expiredID, expiredS3 := e.newMultipart(t, now, time.Hour, true) // resume window closed before `later`
	_, orphanS3 := e.newMultipart(t, now, time.Hour, false)         // row deleted, parts left
	liveID, liveS3 := e.newMultipart(t, now, 24*time.Hour, true)    // still resumable

	r := &Reconciler{Store: e.db, Objects: s3, Enqueuer: e.enq, Profiles: e.profs, Logger: e.log, Now: func() time.Time { return later }}
	rep, err := r.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ups, err := s3.ListMultipartUploads(ctx, upload.IncomingPrefix)
	if err != nil {
		t.Fatal(err)
	}
	has := func(s3ID string) bool {
		return slices.ContainsFunc(ups, func(u s3store.MultipartUpload) bool { return u.UploadID == s3ID })
	}
	if has(expiredS3) || has(orphanS3) {
		t.Errorf("abandoned multipart uploads still in S3 (expired %v, orphan %v); report %+v", has(expiredS3), has(orphanS3), rep)
	}
	if !has(liveS3) {
		t.Errorf("the resumable upload's parts were aborted")
	}
	if rep.MultipartAborted != 2 {
		t.Errorf("report %+v, want 2 multipart uploads aborted", rep)
	}
	if _, err := e.db.Upload(ctx, expiredID); upload.ErrorCode(err) != upload.ENOTFOUND {
		t.Errorf("expired multipart row still there: %v", err)
	}
	if u, err := e.db.Upload(ctx, liveID); err != nil || u.Status != upload.StatusPending {
		t.Errorf("live multipart row: %v %v", u, err)
	}
	if parts, err := s3.ListParts(ctx, upload.IncomingKey(liveID), liveS3); err != nil || len(parts) != 1 {
		t.Errorf("live upload's parts: %v %v, want its one part", parts, err)
	}
}

// TestReconcileFinishesSentParts: every part arrived but the client never
// called complete; at expiry the reconciler completes the multipart upload
// and queues the job instead of throwing the file away.
func TestReconcileFinishesSentParts(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	now := time.Now()
	id, _ := e.newMultipartOf(t, now, time.Hour, true, 10) // one part of 10 bytes: all of it
	r := &Reconciler{Store: e.db, Objects: s3, Enqueuer: e.enq, Profiles: e.profs, Logger: e.log, Now: func() time.Time { return now.Add(2 * time.Hour) }}
	rep, err := r.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := s3.Head(ctx, upload.IncomingKey(id)); err != nil || info.Size != 10 {
		t.Errorf("object after the pass: %+v %v, want the 10 bytes sent", info, err)
	}
	if u, err := e.db.Upload(ctx, id); err != nil || u.Status != upload.StatusProcessing || rep.Completed != 1 {
		t.Errorf("row %v %v, report %+v; want processing and 1 completed", u, err, rep)
	}
}
