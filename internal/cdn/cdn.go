// Package cdn turns object keys into the public URLs variants are served
// from: CloudFront in production, the app's own /cdn/ path in development.
package cdn

import (
	"net/url"
	"strings"
	"time"
)

// URLs builds public URLs for object keys under a base URL.
type URLs struct {
	base   string
	signer *Signer       // signs URLs of private variants; nil = no signing
	ttl    time.Duration // how long a signed URL stays valid
}

// New returns URLs rooted at base, e.g. "https://d111.cloudfront.net" or
// "http://localhost:8080/cdn".
func New(base string) *URLs {
	return &URLs{base: strings.TrimRight(base, "/")}
}

// URL is the public address of key. Each path segment is escaped; keys are
// made by the server, so this is belt and braces.
func (u *URLs) URL(key string) string {
	parts := strings.Split(key, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return u.base + "/" + strings.Join(parts, "/")
}

// Path is the path of key's URL on the CDN host, base path included, as
// CloudFront invalidations name objects. A key ending in "/" is a
// directory: the path ends in "*" to cover all it holds, e.g.
// Path("variants/abc/") == "/variants/abc/*".
func (u *URLs) Path(key string) string {
	p := u.URL(key)
	if parsed, err := url.Parse(p); err == nil {
		p = parsed.EscapedPath()
	}
	if strings.HasSuffix(key, "/") {
		p += "*"
	}
	return p
}

// Origin returns the scheme and host of the base URL, for the
// Content-Security-Policy's img-src.
func (u *URLs) Origin() string {
	p, err := url.Parse(u.base)
	if err != nil || p.Host == "" {
		return ""
	}
	return p.Scheme + "://" + p.Host
}
