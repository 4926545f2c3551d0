package s3store_test

import (
	"context"
	"strings"
	"testing"

	"uploader/internal/devstack"
	"uploader/internal/s3store"
	"uploader/internal/upload"
)

// TestErrorsSayWhatToDo: the gateway refusing our key is not an outage (a
// retry meets the same refusal: the operator must act), while S3 not
// answering at all is one the client may retry. Both keep their cause.
func TestErrorsSayWhatToDo(t *testing.T) {
	ctx := context.Background()
	wrongKey, err := s3store.New(ctx, s3store.Config{Bucket: testBucket, Region: gw.Region, Endpoint: gw.Endpoint,
		AccessKey: gw.AccessKey, SecretKey: "not-the-secret"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = wrongKey.Get(ctx, uniqueKey(t), 10)
	if code := upload.ErrorCode(err); code != upload.EINTERNAL || !strings.Contains(upload.ErrorMessage(err), "configuration problem") ||
		!strings.Contains(err.Error(), "SignatureDoesNotMatch") {
		t.Errorf("wrong secret: code %q, message %q, cause %v; want internal, a configuration problem, the S3 code kept", code, upload.ErrorMessage(err), err)
	}

	addr, err := devstack.FreeAddr() // nothing listens there
	if err != nil {
		t.Fatal(err)
	}
	down, err := s3store.New(ctx, s3store.Config{Bucket: testBucket, Endpoint: "http://" + addr, AccessKey: "a", SecretKey: "b"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = down.Head(ctx, "incoming/x")
	if code := upload.ErrorCode(err); code != upload.EUNAVAILABLE || !strings.Contains(err.Error(), "refused") {
		t.Errorf("S3 not listening: code %q (%v), want %q with the cause", code, err, upload.EUNAVAILABLE)
	}
}
