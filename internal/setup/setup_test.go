package setup_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"uploader/internal/devstack"
	"uploader/internal/s3store"
	"uploader/internal/setup"
	"uploader/internal/testenv"
	"uploader/internal/upload"
)

// gw is the one embedded S3 gateway of this test binary.
var gw *devstack.S3

func TestMain(m *testing.M) {
	os.Exit(testenv.WithS3(m, func(g *devstack.S3) error { gw = g; return nil }))
}

const (
	appURL = "https://uploads.example.com"
	cfARN  = "arn:aws:cloudfront::111122223333:distribution/EDFDVBD6EXAMPLE"
)

func newStore(t *testing.T, bucket string) *s3store.Store {
	t.Helper()
	s, err := s3store.New(context.Background(), s3store.Config{
		Bucket: bucket, Region: gw.Region, Endpoint: gw.Endpoint, AccessKey: gw.AccessKey, SecretKey: gw.SecretKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// preflight sends the CORS preflight a browser sends before upload.js
// POSTs the form to the bucket, and reports whether the answer allows it.
func preflight(t *testing.T, bucket, origin string) (bool, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodOptions, gw.Endpoint+"/"+bucket, nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	allowed := resp.StatusCode == http.StatusOK && resp.Header.Get("Access-Control-Allow-Origin") == origin &&
		strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST")
	return allowed, fmt.Sprintf("%s %v", resp.Status, resp.Header)
}

// preflightPut is the preflight before upload.js PUTs a part.
func preflightPut(t *testing.T, bucket, origin string) (bool, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodOptions, gw.Endpoint+"/"+bucket+"/incoming/x?partNumber=1&uploadId=y", nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "PUT")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	allowed := resp.StatusCode == http.StatusOK && resp.Header.Get("Access-Control-Allow-Origin") == origin &&
		strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "PUT") &&
		strings.Contains(strings.ToLower(resp.Header.Get("Access-Control-Expose-Headers")), "etag")
	return allowed, fmt.Sprintf("%s %v", resp.Status, resp.Header)
}

func runSetup(t *testing.T, b setup.Bucket, opts setup.Options) (setup.Report, string) {
	t.Helper()
	var out bytes.Buffer
	r := setup.Run(context.Background(), b, opts, &out)
	t.Logf("setup output:\n%s", out.String())
	return r, out.String()
}

func TestSetupAgainstEmbeddedS3(t *testing.T) {
	ctx := context.Background()
	const bucket = "setup-fresh"
	s := newStore(t, bucket)
	opts := setup.Options{AppURL: appURL, Region: gw.Region}

	r, out := runSetup(t, s, opts)
	if err := r.Err(); err != nil {
		t.Fatalf("setup failed: %v", err)
	}
	for name, want := range map[string]setup.Status{
		setup.StepBucket:       setup.Updated, // created
		setup.StepCORS:         setup.Updated,
		setup.StepLifecycle:    setup.Unsupported, // versitygw v1.8.0: NotImplemented
		setup.StepPublicAccess: setup.Unsupported, // versitygw v1.8.0: NotImplemented
		setup.StepOwnership:    setup.OK,
	} {
		if got := r.Step(name).Status; got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if !strings.Contains(out, "Lifecycle:") || !strings.Contains(out, "not supported by this endpoint") || !strings.Contains(out, "NotImplemented") {
		t.Errorf("output does not say clearly that lifecycle is not supported here:\n%s", out)
	}
	if !strings.Contains(out, "Summary:") {
		t.Errorf("no summary line")
	}

	if ok, resp := preflight(t, bucket, appURL); !ok {
		t.Errorf("preflight from APP_URL %s refused: %s", appURL, resp)
	}
	if ok, resp := preflightPut(t, bucket, appURL); !ok {
		t.Errorf("preflight of a part PUT from APP_URL %s refused: %s", appURL, resp)
	}
	for _, other := range []string{"https://evil.example", "http://uploads.example.com", "https://uploads.example.com:8443"} {
		if ok, resp := preflight(t, bucket, other); ok {
			t.Errorf("preflight from %s allowed: %s", other, resp)
		}
	}

	before, err := s.GetCORS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r, out = runSetup(t, s, opts)
	if n := r.Count(setup.Updated) + r.Count(setup.WouldUpdate) + r.Count(setup.Failed); n != 0 {
		t.Errorf("second run: %d steps changed or failed, want none:\n%s", n, out)
	}
	if got := r.Step(setup.StepCORS).Status; got != setup.UpToDate || !strings.Contains(out, "CORS:                up to date") {
		t.Errorf("second run: CORS %q, want %q in the output", got, setup.UpToDate)
	}
	after, err := s.GetCORS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(before, after, func(a, b s3store.CORSRule) bool { return fmt.Sprint(a) == fmt.Sprint(b) }) {
		t.Errorf("second run changed CORS: %+v -> %+v", before, after)
	}
}

func TestSetupDryRunChangesNothing(t *testing.T) {
	ctx := context.Background()

	t.Run("missing bucket", func(t *testing.T) {
		s := newStore(t, "setup-dry-missing")
		r, out := runSetup(t, s, setup.Options{AppURL: appURL, Region: gw.Region, DryRun: true})
		if got := r.Step(setup.StepBucket).Status; got != setup.WouldUpdate {
			t.Errorf("bucket: %q, want %q", got, setup.WouldUpdate)
		}
		if !strings.Contains(out, "dry run: nothing was changed") {
			t.Errorf("summary does not say it was a dry run")
		}
		if err := s.Ping(ctx); upload.ErrorCode(err) != upload.ENOTFOUND {
			t.Errorf("after a dry run the bucket exists (Ping: %v)", err)
		}
	})

	t.Run("bucket with other CORS", func(t *testing.T) {
		const bucket = "setup-dry-cors"
		s := newStore(t, bucket)
		if err := s.EnsureBucket(ctx); err != nil {
			t.Fatal(err)
		}
		// What `uploader dev` leaves on its bucket.
		if err := s.PutCORS(ctx, []string{"http://localhost:8080"}); err != nil {
			t.Fatal(err)
		}
		before, _ := s.GetCORS(ctx)
		r, out := runSetup(t, s, setup.Options{AppURL: appURL, Region: gw.Region, DryRun: true})
		if got := r.Step(setup.StepCORS).Status; got != setup.WouldUpdate || !strings.Contains(out, "would allow POST and PUT (parts) from "+appURL) {
			t.Errorf("CORS: %q, want %q saying what it would allow", got, setup.WouldUpdate)
		}
		if r.Count(setup.Updated) != 0 {
			t.Errorf("dry run reports %d updates", r.Count(setup.Updated))
		}
		after, _ := s.GetCORS(ctx)
		if fmt.Sprint(before) != fmt.Sprint(after) {
			t.Errorf("dry run changed CORS: %+v -> %+v", before, after)
		}
		if ok, _ := preflight(t, bucket, appURL); ok {
			t.Errorf("after a dry run, APP_URL may POST")
		}
		if ok, resp := preflight(t, bucket, "http://localhost:8080"); !ok {
			t.Errorf("after a dry run, the old origin is refused: %s", resp)
		}
	})
}

func TestSetupBucketPolicyOnEmbeddedS3(t *testing.T) {
	s := newStore(t, "setup-policy")
	if err := s.EnsureBucket(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Without --apply-bucket-policy: a warning saying how to apply it.
	r, out := runSetup(t, s, setup.Options{AppURL: appURL, Region: gw.Region, CloudFrontARN: cfARN})
	if got := r.Step(setup.StepBucketPolicy).Status; got != setup.Warning || !strings.Contains(out, "--apply-bucket-policy") {
		t.Errorf("bucket policy: %q, want %q pointing at --apply-bucket-policy", got, setup.Warning)
	}
	if !strings.Contains(out, `"Service": "cloudfront.amazonaws.com"`) {
		t.Errorf("the CloudFront bucket policy is not printed")
	}
	// With it: versitygw v1.8.0 only accepts account principals and
	// refuses the CloudFront service principal (MalformedPolicy). AWS
	// accepts it; here the test checks that the refusal is reported with
	// its AWS error code and the run goes on.
	r, out = runSetup(t, s, setup.Options{AppURL: appURL, Region: gw.Region, CloudFrontARN: cfARN, ApplyBucketPolicy: true})
	st := r.Step(setup.StepBucketPolicy)
	if st.Status != setup.Failed || !strings.Contains(st.Detail, "MalformedPolicy") || !strings.Contains(st.Detail, "PutBucketPolicy") {
		t.Errorf("bucket policy on versitygw: %q %q, want Failed naming MalformedPolicy and PutBucketPolicy", st.Status, st.Detail)
	}
	if r.Err() == nil {
		t.Error("Report.Err is nil after a failed step")
	}
	if !strings.Contains(out, "Summary:") || !strings.Contains(out, "1 FAILED") {
		t.Errorf("summary does not count the failure")
	}
}
