package s3store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"uploader/internal/upload"
)

// TestPostSignerMatchesSDK: the fast signer must produce exactly the
// fields the SDK's PresignPostObject produces for the same inputs: same
// policy bytes, same signature.
func TestPostSignerMatchesSDK(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range []Config{
		{Bucket: "uploads", Region: "us-east-1", Endpoint: "http://127.0.0.1:9000", AccessKey: "AKIDEXAMPLE", SecretKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"},
		{Bucket: "my-bucket", Region: "eu-west-3", AccessKey: "AKIAOTHER", SecretKey: "secret/with+chars="},
		// Temporary credentials: the token is a field and a condition.
		{Bucket: "my-bucket", Region: "ap-southeast-2", AccessKey: "ASIATEMPORARY", SecretKey: "tmp/secret+=",
			SessionToken: "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCXVzLWVhc3QtMSJHMEUCIQ+token=="},
		{Bucket: "uploads", Region: "us-east-1", Endpoint: "http://127.0.0.1:9000", AccessKey: "ASIALOCAL", SecretKey: "s",
			SessionToken: "tok<en>&more"},
	} {
		s, err := New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []PostPolicy{
			{Key: "incoming/06h1p1npn5bjn5yafdvbv0sx98", ContentType: "image/jpeg", MaxBytes: 20 << 20, Expires: 10 * time.Minute},
			{Key: "incoming/x", ContentType: "image/png", MaxBytes: 1, Expires: 90 * time.Second, SuccessActionStatus: 204},
			{Key: "incoming/y", ContentType: "image/webp", MaxBytes: 5 << 20, Expires: time.Hour,
				SuccessActionRedirect: "https://app.example/uploads/y/uploaded?profile=photo&exp=1&sig=a<b>"},
			{Key: "incoming/z", ContentType: "image/jpeg", MaxBytes: 20 << 20, Expires: 10 * time.Minute,
				Metadata: upload.ObjectMeta(&upload.Upload{Owner: "acme", User: "zoë", Profile: "photo", Filename: "a <b>&c.jpg"})},
		} {
			refPost, err := s.presignPostSDK(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			ref := struct {
				URL    string
				Fields map[string]string
			}{refPost.URL, refPost.FieldMap()}
			// Sign again with the SDK's signing time and expiry.
			signedAt, err := time.Parse("20060102T150405Z", ref.Fields["X-Amz-Date"])
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := base64.StdEncoding.DecodeString(ref.Fields["policy"])
			var doc struct {
				Expiration string `json:"expiration"`
			}
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatal(err)
			}
			exp, _ := time.Parse(time.RFC3339, doc.Expiration)
			creds, _ := s.signer.creds.Retrieve(ctx)
			conds, field, value := p.conditions()
			got := fieldMap(s.signer.sign(creds, p.Key, conds, signedAt, exp, 0))
			got["Content-Type"] = p.ContentType
			got[field] = value
			for _, m := range p.Metadata {
				got[metaPrefix+m.Name] = m.Value
			}
			if cfg.SessionToken != "" && (ref.Fields["X-Amz-Security-Token"] != cfg.SessionToken ||
				!strings.Contains(string(raw), `{"X-Amz-Security-Token":`)) {
				t.Errorf("%s: the SDK's policy lacks the session token: %v %s", p.Key, ref.Fields, raw)
			}
			if len(got) != len(ref.Fields) {
				t.Errorf("%s: %d fields, SDK %d: %v vs %v", p.Key, len(got), len(ref.Fields), got, ref.Fields)
			}
			for k, v := range ref.Fields {
				if got[k] != v {
					gotRaw, _ := base64.StdEncoding.DecodeString(got[k])
					t.Errorf("%s: field %s differs\n ours %q\n sdk  %q\n (policy ours %s\n         sdk  %s)", p.Key, k, got[k], v, gotRaw, raw)
				}
			}
			fast, err := s.PresignPost(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			if fast.URL != ref.URL {
				t.Errorf("URL %q, SDK %q", fast.URL, ref.URL)
			}
		}
	}
}

// TestPostSignerSessionToken: temporary credentials put their token in
// the policy and the fields, as the SDK does.
func TestPostSignerSessionToken(t *testing.T) {
	p := &postSigner{region: "us-east-1", bucket: "b"}
	creds := aws.Credentials{AccessKeyID: "ASIA", SecretAccessKey: "s", SessionToken: "tok+/="}
	now := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	f := fieldMap(p.sign(creds, "incoming/x", nil, now, now.Add(time.Minute), 0))
	raw, _ := base64.StdEncoding.DecodeString(f["policy"])
	if f["X-Amz-Security-Token"] != "tok+/=" || !json.Valid(raw) || !strings.Contains(string(raw), `{"X-Amz-Security-Token":"tok+/="}`) {
		t.Errorf("token missing: %v %s", f, raw)
	}
}

// expiringCreds are temporary credentials that lapse at a given time, as
// an assumed role's do.
type expiringCreds struct {
	expires time.Time
	failOn  int // this call fails, as credentials not ready yet do
	calls   int
}

func (c *expiringCreds) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c.calls++
	if c.calls == c.failOn {
		return aws.Credentials{}, errors.New("credentials not ready")
	}
	return aws.Credentials{AccessKeyID: "ASIAEXPIRING", SecretAccessKey: "s", SessionToken: "t",
		CanExpire: true, Expires: c.expires}, nil
}

// storeWithCreds is a Store whose signer and SDK client both take their
// credentials from p.
func storeWithCreds(t *testing.T, p aws.CredentialsProvider) *Store {
	t.Helper()
	s, err := New(context.Background(), Config{Bucket: "b", Region: "eu-central-1", AccessKey: "unused", SecretKey: "unused"})
	if err != nil {
		t.Fatal(err)
	}
	s.client = s3.New(s.client.Options(), func(o *s3.Options) { o.Credentials = p })
	s.presign = s3.NewPresignClient(s.client)
	s.signer.creds = p
	return s
}

// TestPolicyExpiryClampedToCredentials: a policy signed with credentials
// that expire in two minutes must not promise the browser ten; S3 would
// refuse the upload after two.
func TestPolicyExpiryClampedToCredentials(t *testing.T) {
	credsExpire := time.Now().Add(2 * time.Minute).UTC().Truncate(time.Second)
	s := storeWithCreds(t, &expiringCreds{expires: credsExpire})
	pp, err := s.PresignPost(context.Background(), PostPolicy{Key: "incoming/x", ContentType: "image/png", MaxBytes: 10, Expires: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(pp.Field("policy"))
	var doc struct {
		Expiration time.Time `json:"expiration"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if !pp.ExpiresAt.Equal(credsExpire) || !doc.Expiration.Equal(credsExpire) {
		t.Errorf("policy expires %v (ExpiresAt %v); the credentials expire %v", doc.Expiration, pp.ExpiresAt, credsExpire)
	}

	// Credentials that outlive the policy leave its expiry alone.
	later := time.Now().Add(time.Hour)
	s = storeWithCreds(t, &expiringCreds{expires: later})
	start := time.Now()
	pp, err = s.PresignPost(context.Background(), PostPolicy{Key: "incoming/x", ContentType: "image/png", MaxBytes: 10, Expires: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if d := pp.ExpiresAt.Sub(start); d < 10*time.Minute-time.Second || d > 10*time.Minute {
		t.Errorf("policy lasts %v with credentials valid for an hour; want 10m", d)
	}
}

// TestPresignRecoversFromFirstError: a failure while the signer first asks
// the SDK for the POST URL (here the credentials failing on that call, as
// an instance role still starting does) fails that presign only; the
// signer must not keep the error and refuse every upload until a restart.
func TestPresignRecoversFromFirstError(t *testing.T) {
	// Call 1 is the signer's own; call 2 is the SDK's, for the URL.
	creds := &expiringCreds{expires: time.Now().Add(time.Hour), failOn: 2}
	s := storeWithCreds(t, creds)
	p := PostPolicy{Key: "incoming/x", ContentType: "image/png", MaxBytes: 10, Expires: time.Minute}
	var errs int
	for range 4 {
		if _, err := s.PresignPost(context.Background(), p); err != nil {
			errs++
		}
	}
	if errs != 1 {
		t.Errorf("%d of 4 presigns failed with credentials that failed once; want 1", errs)
	}
	if pp, err := s.PresignPost(context.Background(), p); err != nil || !strings.Contains(pp.URL, "s3.eu-central-1.amazonaws.com") {
		t.Errorf("after recovery: %+v %v", pp, err)
	}
}
