package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"uploader/internal/s3store"
)

// TestS3EventRecords: with a webhook, every object created on the gateway
// (PutObject, a browser-style POST, CompleteMultipartUpload) is announced
// with its key.
func TestS3EventRecords(t *testing.T) {
	var mu sync.Mutex
	got := map[string]string{} // key -> event name
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			Records []struct {
				EventName string `json:"eventName"`
				S3        struct {
					Object struct {
						Key string `json:"key"`
					} `json:"object"`
				} `json:"s3"`
			} `json:"Records"`
		}
		json.NewDecoder(r.Body).Decode(&ev)
		mu.Lock()
		for _, rec := range ev.Records {
			got[rec.S3.Object.Key] = rec.EventName
		}
		mu.Unlock()
	}))
	defer hook.Close()
	addr, _ := FreeAddr()
	gw, err := StartS3With(t.TempDir(), addr, S3Options{EventWebhookURL: hook.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Stop()
	ctx := context.Background()
	st, err := s3store.New(ctx, s3store.Config{Bucket: "events", Endpoint: gw.Endpoint, AccessKey: gw.AccessKey, SecretKey: gw.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}

	if err := st.Put(ctx, "incoming/put", []byte("x"), "image/png", ""); err != nil {
		t.Fatal(err)
	}
	post, err := st.PresignPost(ctx, s3store.PostPolicy{Key: "incoming/post", ContentType: "image/png", MaxBytes: 10, Expires: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, f := range post.Fields { // in name order
		mw.WriteField(f.Name, f.Value)
	}
	fw, _ := mw.CreateFormFile("file", "a.png")
	fw.Write([]byte("12345"))
	mw.Close()
	resp, err := http.Post(post.URL, mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
	id, err := st.CreateMultipart(ctx, "incoming/multi", "image/png")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := st.PresignPart(ctx, "incoming/multi", id, 1, 3, time.Minute)
	req, _ := http.NewRequest(http.MethodPut, u, bytes.NewReader([]byte("abc")))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("part: %v %v", resp, err)
	}
	parts, _ := st.ListParts(ctx, "incoming/multi", id)
	if err := st.CompleteMultipart(ctx, "incoming/multi", id, parts); err != nil {
		t.Fatal(err)
	}

	want := map[string]string{
		"incoming/put": "s3:ObjectCreated:Put", "incoming/post": "s3:ObjectCreated:Put",
		"incoming/multi": "s3:ObjectCreated:CompleteMultipartUpload",
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for k, name := range want {
		if got[k] != name {
			t.Errorf("%s: event %q, want %q (all: %v)", k, got[k], name, got)
		}
	}
}
