package cdn_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"uploader/internal/cdn"
)

func newKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pkcs1PEM(k *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

func pkcs8PEM(t *testing.T, k any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// verifyCanned checks a CloudFront canned-policy signed URL the way
// CloudFront does, without the SDK: it rebuilds the policy JSON from the
// documented template, then checks the RSA-SHA1 signature with pub. It
// returns the expiry.
func verifyCanned(t *testing.T, signed string, pub *rsa.PublicKey, keyPairID string) (time.Time, error) {
	t.Helper()
	u, err := url.Parse(signed)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if got := q.Get("Key-Pair-Id"); got != keyPairID {
		return time.Time{}, fmt.Errorf("Key-Pair-Id = %q, want %q", got, keyPairID)
	}
	if q.Get("Policy") != "" {
		return time.Time{}, fmt.Errorf("a Policy parameter: want a canned policy (Expires)")
	}
	exp, err := strconv.ParseInt(q.Get("Expires"), 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("Expires = %q: %v", q.Get("Expires"), err)
	}
	// The resource is the URL without the signing parameters.
	for _, p := range []string{"Expires", "Signature", "Key-Pair-Id"} {
		q.Del(p)
	}
	u.RawQuery = q.Encode()
	resource := u.String()
	policy := fmt.Sprintf(`{"Statement":[{"Resource":"%s","Condition":{"DateLessThan":{"AWS:EpochTime":%d}}}]}`, resource, exp)
	// CloudFront's URL-safe base64: + becomes -, = becomes _, / becomes ~.
	sig, err := base64.StdEncoding.DecodeString(strings.NewReplacer("-", "+", "_", "=", "~", "/").Replace(q2(signed, "Signature")))
	if err != nil {
		return time.Time{}, fmt.Errorf("Signature is not CloudFront base64: %v", err)
	}
	sum := sha1.Sum([]byte(policy))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA1, sum[:], sig); err != nil {
		return time.Time{}, fmt.Errorf("signature does not verify for policy %s: %v", policy, err)
	}
	return time.Unix(exp, 0), nil
}

// q2 reads a raw query parameter without URL-decoding it ("~", "-" and
// "_" survive decoding anyway; this keeps the check honest).
func q2(rawURL, name string) string {
	_, query, _ := strings.Cut(rawURL, "?")
	for _, kv := range strings.Split(query, "&") {
		if k, v, _ := strings.Cut(kv, "="); k == name {
			return v
		}
	}
	return ""
}

func TestSignedURLVerifiesWithPublicKey(t *testing.T) {
	key := newKey(t)
	const keyPairID = "K2JCJMDEHXQW5F"
	now := time.Date(2026, 11, 27, 3, 2, 0, 0, time.UTC)
	ttl := time.Hour
	for _, tt := range []struct {
		name string
		pem  []byte
	}{
		{"PKCS#1 PEM", pkcs1PEM(key)},
		{"PKCS#8 PEM", pkcs8PEM(t, key)},
		{"base64 of PEM", []byte(base64.StdEncoding.EncodeToString(pkcs1PEM(key)))},
		{`PEM with literal \n`, []byte(strings.ReplaceAll(string(pkcs8PEM(t, key)), "\n", `\n`))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := cdn.NewSigner(keyPairID, tt.pem)
			if err != nil {
				t.Fatal(err)
			}
			urls := cdn.New("https://d111111abcdef8.cloudfront.net").WithSigner(s, ttl)
			key := "variants/0123456789abcdefghjkmnpqrs/1/w1024.jpg"
			signed, err := urls.SignedURL(key, now)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(signed, urls.URL(key)+"?") {
				t.Errorf("signed URL %s does not start with the plain URL", signed)
			}
			exp, err := verifyCanned(t, signed, &key2pub(t, tt.pem).PublicKey, keyPairID)
			if err != nil {
				t.Fatal(err)
			}
			if exp.Before(now.Add(ttl)) || exp.After(now.Add(ttl+5*time.Minute)) {
				t.Errorf("expires %s, want between %s and 5 minutes later", exp, now.Add(ttl))
			}
			// The same URL for polls within the rounding window, so
			// browsers can reuse the cached image.
			again, _ := urls.SignedURL(key, now.Add(30*time.Second))
			if again != signed {
				t.Errorf("signed 30s later: %s, want the same URL %s", again, signed)
			}
			if got := urls.URLFor(key, true, now); got != signed {
				t.Errorf("URLFor(private) = %s, want the signed URL", got)
			}
			if got := urls.URLFor(key, false, now); got != urls.URL(key) {
				t.Errorf("URLFor(public) = %s, want %s", got, urls.URL(key))
			}
		})
	}

	t.Run("another key or a changed URL does not verify", func(t *testing.T) {
		s, err := cdn.NewSigner(keyPairID, pkcs1PEM(key))
		if err != nil {
			t.Fatal(err)
		}
		signed, err := s.Sign("https://d111111abcdef8.cloudfront.net/variants/a/1/w320.jpg", now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := verifyCanned(t, signed, &newKey(t).PublicKey, keyPairID); err == nil {
			t.Error("verified with a different public key")
		}
		tampered := strings.Replace(signed, "w320.jpg", "w2048.jpg", 1)
		if _, err := verifyCanned(t, tampered, &key.PublicKey, keyPairID); err == nil {
			t.Error("verified for another object")
		}
		later := strings.Replace(signed, "Expires=", "Expires=9", 1)
		if _, err := verifyCanned(t, later, &key.PublicKey, keyPairID); err == nil {
			t.Error("verified with a later expiry")
		}
	})
}

// key2pub parses the test's own PEM back, so each subtest verifies with
// the public half of exactly the key it signed with.
func key2pub(t *testing.T, data []byte) *rsa.PrivateKey {
	t.Helper()
	s := string(data)
	if !strings.HasPrefix(s, "-----") {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		s = string(b)
	}
	block, _ := pem.Decode([]byte(strings.ReplaceAll(s, `\n`, "\n")))
	if block == nil {
		t.Fatal("no PEM")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*rsa.PrivateKey)
}

func TestNewSignerRefusesBadKeys(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, keyPairID string
		pem             []byte
		want            string
	}{
		{"no key pair id", "", pkcs1PEM(newKey(t)), "CLOUDFRONT_KEY_PAIR_ID"},
		{"empty key", "K1", nil, "CLOUDFRONT_PRIVATE_KEY"},
		{"not PEM or base64", "K1", []byte("hello, world!"), "CLOUDFRONT_PRIVATE_KEY"},
		{"base64 of garbage", "K1", []byte(base64.StdEncoding.EncodeToString([]byte("garbage"))), "no PEM block"},
		{"an EC key", "K1", pkcs8PEM(t, ecKey), "RSA"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cdn.NewSigner(tt.keyPairID, tt.pem)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewSigner: %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

func TestUnsignedWithoutSigner(t *testing.T) {
	u := cdn.New("http://localhost:8080/cdn")
	got, err := u.SignedURL("variants/a/1/s64.png", time.Now())
	if err != nil || got != "http://localhost:8080/cdn/variants/a/1/s64.png" {
		t.Errorf("SignedURL without signer = %q, %v; want the plain URL", got, err)
	}
}

func TestPath(t *testing.T) {
	for _, tt := range []struct{ base, key, want string }{
		{"https://d111111abcdef8.cloudfront.net", "variants/abc/", "/variants/abc/*"},
		{"https://d111111abcdef8.cloudfront.net/", "variants/abc/2/w320.jpg", "/variants/abc/2/w320.jpg"},
		{"https://cdn.example.com/media", "variants/abc/", "/media/variants/abc/*"},
	} {
		if got := cdn.New(tt.base).Path(tt.key); got != tt.want {
			t.Errorf("New(%q).Path(%q) = %q, want %q", tt.base, tt.key, got, tt.want)
		}
	}
}
