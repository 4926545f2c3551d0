package s3store_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"uploader/internal/s3store"
)

// isolateAWS keeps the SDK's default chain away from this machine's own
// AWS files and instance metadata.
func isolateAWS(t *testing.T) {
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_PROFILE", "")
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} {
		t.Setenv(k, "")
	}
}

// recordingS3 is a stand-in S3 endpoint that answers every request 200 and
// keeps the credential and session token each one was signed with.
type recordingS3 struct {
	mu          sync.Mutex
	credentials []string // the Credential= part of Authorization
	tokens      []string // X-Amz-Security-Token
}

func (s *recordingS3) start(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		auth := r.Header.Get("Authorization")
		if _, cred, ok := strings.Cut(auth, "Credential="); ok {
			cred, _, _ = strings.Cut(cred, "/")
			s.credentials = append(s.credentials, cred)
		}
		s.tokens = append(s.tokens, r.Header.Get("X-Amz-Security-Token"))
		w.Header().Set("Content-Length", "0")
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestTemporaryCredentials: temporary credentials (an assumed role, SSO,
// an ECS task role) come with a session token; every S3 request must carry
// it, or S3 refuses them all with InvalidAccessKeyId. Keys given
// explicitly carry their token; without keys the SDK's default chain finds
// both (here in the environment, as AWS_* variables).
func TestTemporaryCredentials(t *testing.T) {
	isolateAWS(t)
	ctx := context.Background()
	for _, c := range []struct {
		name string
		cfg  s3store.Config
		env  map[string]string
	}{
		{name: "explicit keys with a session token",
			cfg: s3store.Config{AccessKey: "ASIAEXPLICIT", SecretKey: "secret", SessionToken: "token-explicit"}},
		{name: "default chain",
			env: map[string]string{"AWS_ACCESS_KEY_ID": "ASIACHAIN", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "token-chain"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			var rec recordingS3
			c.cfg.Bucket, c.cfg.Region, c.cfg.Endpoint = "b", "eu-west-1", rec.start(t)
			s, err := s3store.New(ctx, c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Head(ctx, "incoming/x"); err != nil {
				t.Fatalf("Head: %v", err)
			}
			wantKey, wantToken := c.cfg.AccessKey, c.cfg.SessionToken
			if wantKey == "" {
				wantKey, wantToken = c.env["AWS_ACCESS_KEY_ID"], c.env["AWS_SESSION_TOKEN"]
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if len(rec.tokens) == 0 || rec.tokens[0] != wantToken || rec.credentials[0] != wantKey {
				t.Errorf("S3 saw keys %q and tokens %q; want key %q with token %q", rec.credentials, rec.tokens, wantKey, wantToken)
			}
			pp, err := s.PresignPost(ctx, s3store.PostPolicy{Key: "incoming/x", ContentType: "image/png", MaxBytes: 10, Expires: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			if pp.FieldMap()["X-Amz-Security-Token"] != wantToken || !strings.HasPrefix(pp.FieldMap()["X-Amz-Credential"], wantKey+"/") {
				t.Errorf("POST fields %v lack the token %q or key %q", pp.FieldMap(), wantToken, wantKey)
			}
		})
	}
}

// There is no upload through the embedded gateway with a session token:
// versitygw v1.8.0 answers InvalidToken to any token that comes with its
// root key, and only its standalone IAM service (OIDC web identity, mTLS to
// the gateway) mints temporary keys. The policy's bytes are proven equal
// to the SDK's instead (TestPostSignerMatchesSDK), token included.
