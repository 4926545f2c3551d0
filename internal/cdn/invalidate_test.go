package cdn_test

import (
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"uploader/internal/cdn"
)

// cloudFrontStandIn is a LOCAL HTTP STAND-IN for the CloudFront API: there
// is no CloudFront here. It answers CreateInvalidation as the API
// reference documents it (201 and an Invalidation document) and records
// each request, so the test can check what the app asked for.
type cloudFrontStandIn struct {
	*httptest.Server
	mu       sync.Mutex
	requests []invalidationRequest
	status   int // answer with this error status when not 0
}

type invalidationRequest struct {
	Method, Path, Authorization string
	SessionToken                string // X-Amz-Security-Token
	Batch                       struct {
		CallerReference string   `xml:"CallerReference"`
		Quantity        int      `xml:"Paths>Quantity"`
		Paths           []string `xml:"Paths>Items>Path"`
	}
}

func newCloudFrontStandIn(t *testing.T) *cloudFrontStandIn {
	t.Helper()
	s := &cloudFrontStandIn{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := invalidationRequest{Method: r.Method, Path: r.URL.Path, Authorization: r.Header.Get("Authorization"),
			SessionToken: r.Header.Get("X-Amz-Security-Token")}
		if err := xml.Unmarshal(body, &req.Batch); err != nil {
			t.Errorf("stand-in: body is not an InvalidationBatch: %v\n%s", err, body)
		}
		s.mu.Lock()
		s.requests = append(s.requests, req)
		status := s.status
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		if status != 0 {
			w.WriteHeader(status)
			io.WriteString(w, `<?xml version="1.0"?><ErrorResponse xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User is not authorized to perform: cloudfront:CreateInvalidation</Message></Error><RequestId>x</RequestId></ErrorResponse>`)
			return
		}
		w.Header().Set("Location", s.URL+r.URL.Path+"/I2J0I21PCUYOIK")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `<?xml version="1.0"?><Invalidation xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Id>I2J0I21PCUYOIK</Id><Status>InProgress</Status><CreateTime>`+
			time.Now().UTC().Format(time.RFC3339)+`</CreateTime>`+string(body[strings.Index(string(body), "<InvalidationBatch"):])+`</Invalidation>`)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *cloudFrontStandIn) taken() []invalidationRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]invalidationRequest(nil), s.requests...)
}

func TestInvalidateAgainstCloudFrontStandIn(t *testing.T) {
	ctx := context.Background()
	standIn := newCloudFrontStandIn(t)
	inv, err := cdn.NewInvalidator(ctx, cdn.InvalidatorConfig{
		DistributionID: "EDFDVBD6EXAMPLE", Endpoint: standIn.URL,
		AccessKey: "AKIDEXAMPLE", SecretKey: "secret",
	})
	if err != nil {
		t.Fatal(err)
	}
	urls := cdn.New("https://d111111abcdef8.cloudfront.net")
	const id = "0123456789abcdefghjkmnpqrs"
	paths := []string{urls.Path("variants/" + id + "/")}
	if err := inv.Invalidate(ctx, paths); err != nil {
		t.Fatal(err)
	}
	if err := inv.Invalidate(ctx, paths); err != nil {
		t.Fatal(err)
	}
	reqs := standIn.taken()
	if len(reqs) != 2 {
		t.Fatalf("stand-in got %d requests, want 2", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.Path != "/2020-05-31/distribution/EDFDVBD6EXAMPLE/invalidation" {
		t.Errorf("request %s %s, want POST /2020-05-31/distribution/EDFDVBD6EXAMPLE/invalidation", r.Method, r.Path)
	}
	if r.Batch.Quantity != 1 || len(r.Batch.Paths) != 1 || r.Batch.Paths[0] != "/variants/"+id+"/*" {
		t.Errorf("paths %q (quantity %d), want [/variants/%s/*]", r.Batch.Paths, r.Batch.Quantity, id)
	}
	if !strings.Contains(r.Authorization, "Credential=AKIDEXAMPLE/") || !strings.Contains(r.Authorization, "/us-east-1/cloudfront/aws4_request") {
		t.Errorf("Authorization %q: want SigV4 for cloudfront in us-east-1 with the given key", r.Authorization)
	}
	if r.Batch.CallerReference == "" || r.Batch.CallerReference == reqs[1].Batch.CallerReference {
		t.Errorf("caller references %q and %q: want two different, non-empty", r.Batch.CallerReference, reqs[1].Batch.CallerReference)
	}
}

func TestInvalidateRefusedNamesPermission(t *testing.T) {
	ctx := context.Background()
	standIn := newCloudFrontStandIn(t)
	standIn.status = http.StatusForbidden
	inv, err := cdn.NewInvalidator(ctx, cdn.InvalidatorConfig{
		DistributionID: "EDFDVBD6EXAMPLE", Endpoint: standIn.URL, AccessKey: "AKIDEXAMPLE", SecretKey: "secret",
	})
	if err != nil {
		t.Fatal(err)
	}
	err = inv.Invalidate(ctx, []string{"/variants/x/*"})
	if err == nil || !strings.Contains(err.Error(), "AccessDenied") || !strings.Contains(err.Error(), "cloudfront:CreateInvalidation") {
		t.Errorf("Invalidate refused: %v, want AccessDenied naming cloudfront:CreateInvalidation", err)
	}
}

func TestNoDistributionNoInvalidation(t *testing.T) {
	inv, err := cdn.NewInvalidator(context.Background(), cdn.InvalidatorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := inv.(cdn.NoInvalidation); !ok {
		t.Fatalf("NewInvalidator without a distribution = %T, want cdn.NoInvalidation", inv)
	}
	if err := inv.Invalidate(context.Background(), []string{"/variants/x/*"}); err != nil {
		t.Errorf("NoInvalidation.Invalidate: %v", err)
	}
}

// TestInvalidateWithSessionToken: temporary keys sign with their session
// token, or CloudFront refuses them.
func TestInvalidateWithSessionToken(t *testing.T) {
	ctx := context.Background()
	standIn := newCloudFrontStandIn(t)
	inv, err := cdn.NewInvalidator(ctx, cdn.InvalidatorConfig{
		DistributionID: "EDFDVBD6EXAMPLE", Endpoint: standIn.URL,
		AccessKey: "ASIATEMPORARY", SecretKey: "secret", SessionToken: "session-token",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := inv.Invalidate(ctx, []string{"/variants/x/*"}); err != nil {
		t.Fatal(err)
	}
	reqs := standIn.taken()
	if len(reqs) != 1 || reqs[0].SessionToken != "session-token" || !strings.Contains(reqs[0].Authorization, "ASIATEMPORARY/") {
		t.Errorf("CloudFront saw %+v; want one request signed by ASIATEMPORARY with the session token", reqs)
	}
}
