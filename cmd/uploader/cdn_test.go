package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestDeleteInvalidatesCloudFront: deleting an upload asks CloudFront to
// drop its variants. CloudFront's API cannot run here: a local HTTP
// stand-in receives the call (the SDK is pointed at it with
// AWS_ENDPOINT_URL_CLOUDFRONT, its standard per-service endpoint variable).
func TestDeleteInvalidatesCloudFront(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	var paths []string
	standIn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `<?xml version="1.0"?><Invalidation xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Id>I2J0I21PCUYOIK</Id><Status>InProgress</Status><CreateTime>2026-11-27T00:00:00Z</CreateTime><InvalidationBatch><Paths><Quantity>1</Quantity></Paths><CallerReference>x</CallerReference></InvalidationBatch></Invalidation>`)
	}))
	defer standIn.Close()
	t.Setenv("AWS_ENDPOINT_URL_CLOUDFRONT", standIn.URL)

	a := startApp(t, map[string]string{
		"API_TOKENS": "tok", "ALLOW_ANONYMOUS": "false",
		"CLOUDFRONT_DISTRIBUTION_ID": "EDFDVBD6EXAMPLE",
		"CDN_BASE_URL":               "https://d111111abcdef8.cloudfront.net",
	})
	s := a.uploadPhoto(t, photo(t, 400, 300), "avatar")
	if s.Status != "ready" || !strings.HasPrefix(s.Variants[0].URL, "https://d111111abcdef8.cloudfront.net/variants/"+s.ID+"/") {
		t.Fatalf("upload %s, first URL %s", s.Status, s.Variants[0].URL)
	}
	if st := a.do(t, "DELETE", "/api/uploads/"+s.ID, nil, nil); st != http.StatusNoContent {
		t.Fatalf("delete: %d", st)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 1 {
		t.Fatalf("%d invalidation calls, want 1", len(bodies))
	}
	if !strings.Contains(paths[0], "/distribution/EDFDVBD6EXAMPLE/invalidation") {
		t.Errorf("invalidation sent to %s", paths[0])
	}
	if !strings.Contains(bodies[0], "<Path>/variants/"+s.ID+"/*</Path>") {
		t.Errorf("invalidation body lacks the upload's variant path:\n%s", bodies[0])
	}
}
