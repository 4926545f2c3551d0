package cdn

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/cloudfront/sign"
)

// Signer makes CloudFront signed URLs with a canned policy (the URL and an
// expiry), for variants of profiles marked private. The distribution's
// behaviour for variants/ must trust the key's key group.
type Signer struct {
	keyPairID string
	signer    *sign.URLSigner
}

// NewSigner returns a Signer for the CloudFront public key keyPairID
// (CLOUDFRONT_KEY_PAIR_ID) and its RSA private key (CLOUDFRONT_PRIVATE_KEY):
// PEM, PKCS#1 or PKCS#8, or the base64 of that PEM, which fits a config
// variable on one line.
func NewSigner(keyPairID string, pemKey []byte) (*Signer, error) {
	if keyPairID == "" {
		return nil, errors.New("CLOUDFRONT_KEY_PAIR_ID is empty: give the ID of the public key in CloudFront (Key management > Public keys)")
	}
	key, err := parseRSAKey(pemKey)
	if err != nil {
		return nil, fmt.Errorf("CLOUDFRONT_PRIVATE_KEY: %w", err)
	}
	return &Signer{keyPairID: keyPairID, signer: sign.NewURLSigner(keyPairID, key)}, nil
}

// KeyPairID returns the CloudFront public key ID the Signer signs for.
func (s *Signer) KeyPairID() string { return s.keyPairID }

// Sign returns rawURL with the Expires, Signature and Key-Pair-Id
// parameters CloudFront checks; the URL stops working at expires.
func (s *Signer) Sign(rawURL string, expires time.Time) (string, error) {
	return s.signer.Sign(rawURL, expires)
}

func parseRSAKey(data []byte) (*rsa.PrivateKey, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, errors.New("empty: give the PEM of the RSA private key whose public key is in CloudFront")
	}
	if !bytes.HasPrefix(data, []byte("-----BEGIN")) {
		// base64 of the PEM: whitespace is allowed, so a wrapped value works.
		dec, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(data)), ""))
		if err != nil {
			return nil, errors.New("neither a PEM block nor base64 of one (try: base64 -w0 private_key.pem)")
		}
		data = bytes.TrimSpace(dec)
	}
	// Config variables pasted with literal "\n" are common; accept them.
	data = bytes.ReplaceAll(data, []byte(`\n`), []byte("\n"))
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("not an RSA private key in PKCS#1 or PKCS#8 form: %w", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T key; CloudFront signed URLs need RSA", k)
	}
	return rk, nil
}

// signedTTLGranularity rounds expiries up, so a page polled several times
// gets the same URL and the browser's cache can reuse the image.
const signedTTLGranularity = 5 * time.Minute

// WithSigner returns a copy of u whose SignedURL signs with s for at least
// ttl. A nil s makes SignedURL return plain URLs (development, where the
// app's own /cdn serves variants).
func (u *URLs) WithSigner(s *Signer, ttl time.Duration) *URLs {
	c := *u
	c.signer, c.ttl = s, ttl
	return &c
}

// SignedURL is the public address of key, signed to stay valid for at
// least the Signer's ttl after now, for variants of private profiles.
// Without a Signer it is URL(key).
func (u *URLs) SignedURL(key string, now time.Time) (string, error) {
	plain := u.URL(key)
	if u.signer == nil {
		return plain, nil
	}
	expires := now.Add(u.ttl).Add(signedTTLGranularity - 1).Truncate(signedTTLGranularity)
	return u.signer.Sign(plain, expires)
}

// URLFor is URL(key) for public profiles and SignedURL(key, now) for
// private ones; a signing failure (it needs a working key, checked at
// start) yields the unsigned URL, which CloudFront refuses.
func (u *URLs) URLFor(key string, private bool, now time.Time) string {
	if !private {
		return u.URL(key)
	}
	s, err := u.SignedURL(key, now)
	if err != nil {
		return u.URL(key)
	}
	return s
}
