package s3store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// TestPostSignerMatchesSDK: the fast signer must produce exactly the
// fields the SDK's PresignPostObject produces for the same inputs: same
// policy bytes, same signature.
func TestPostSignerMatchesSDK(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range []Config{
		{Bucket: "uploads", Region: "us-east-1", Endpoint: "http://127.0.0.1:9000", AccessKey: "AKIDEXAMPLE", SecretKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"},
		{Bucket: "my-bucket", Region: "eu-west-3", AccessKey: "AKIAOTHER", SecretKey: "secret/with+chars="},
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
		} {
			ref, err := s.presignPostSDK(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
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
			got := s.signer.sign(creds, p.Key, conds, signedAt, exp)
			got["Content-Type"] = p.ContentType
			got[field] = value
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
	f := p.sign(creds, "incoming/x", nil, now, now.Add(time.Minute))
	raw, _ := base64.StdEncoding.DecodeString(f["policy"])
	if f["X-Amz-Security-Token"] != "tok+/=" || !json.Valid(raw) || !strings.Contains(string(raw), `{"X-Amz-Security-Token":"tok+/="}`) {
		t.Errorf("token missing: %v %s", f, raw)
	}
}
