package s3store

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"uploader/internal/jsonstr"
)

// postSigner signs POST policies without the SDK's per-call middleware
// stack, which costs about 100 µs and 400 allocations a policy. It writes
// the policy document exactly as the SDK's PresignPostObject does (same
// conditions, same order, same JSON) and signs it with AWS Signature V4,
// caching the derived signing key for the day. A test checks that its
// output is byte-identical to the SDK's for the same inputs.
type postSigner struct {
	creds  aws.CredentialsProvider
	region string
	bucket string

	mu        sync.Mutex
	url       string     // "" until one call succeeded: a failure is not kept
	keySecret string     // the secret and
	keyDate   [8]byte    // the day (YYYYMMDD) the signing key was derived for
	macs      *sync.Pool // of hash.Hash: HMAC-SHA256 with that signing key

	stampSec             int64 // the second, and access key, the stamps below are for
	stampKey             string
	stampDate, stampCred string
}

// postURL asks the SDK where POSTs go (virtual-hosted on AWS, path-style
// on custom endpoints) and keeps the answer: the URL does not depend on
// the key. An error is not kept, so a first call that failed (credentials
// not ready yet, a caller that went away) does not fail every later one.
func (p *postSigner) postURL(ctx context.Context, presign *s3.PresignClient) (string, error) {
	p.mu.Lock()
	u := p.url
	p.mu.Unlock()
	if u != "" {
		return u, nil
	}
	key := "probe"
	out, err := presign.PresignPostObject(ctx, &s3.PutObjectInput{Bucket: &p.bucket, Key: &key})
	if err != nil {
		return "", err
	}
	p.mu.Lock()
	p.url = out.URL
	p.mu.Unlock()
	return out.URL, nil
}

// key returns the signing key for the day of t and a pool of HMACs keyed
// with it. The pool is replaced with the key, so a MAC never outlives it.
func (p *postSigner) key(secret string, t time.Time) *sync.Pool {
	var d [8]byte
	t.UTC().AppendFormat(d[:0], "20060102")
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.macs == nil || p.keySecret != secret || p.keyDate != d {
		date := slices.Clone(d[:]) // d itself would escape, on every call, through the hash's Write
		k := hmacSHA256([]byte("AWS4"+secret), date)
		k = hmacSHA256(k, []byte(p.region))
		k = hmacSHA256(k, []byte("s3"))
		signKey := hmacSHA256(k, []byte("aws4_request"))
		p.keySecret = secret
		p.keyDate = d
		p.macs = &sync.Pool{New: func() any { return hmac.New(sha256.New, signKey) }}
	}
	return p.macs
}

func hmacSHA256(key, data []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(data)
	return h.Sum(nil)
}

// stamps returns the X-Amz-Date and X-Amz-Credential of a policy signed
// at t, reusing the strings of the previous call within the same second:
// at thousands of presigns a second, most share them.
func (p *postSigner) stamps(accessKey string, t time.Time) (date, credential string) {
	sec := t.Unix()
	p.mu.Lock()
	if p.stampSec == sec && p.stampKey == accessKey && p.stampDate != "" {
		date, credential = p.stampDate, p.stampCred
		p.mu.Unlock()
		return date, credential
	}
	p.mu.Unlock()
	at := t.UTC()
	date = at.Format("20060102T150405Z")
	credential = accessKey + "/" + date[:8] + "/" + p.region + "/s3/aws4_request"
	p.mu.Lock()
	p.stampSec, p.stampKey, p.stampDate, p.stampCred = sec, accessKey, date, credential
	p.mu.Unlock()
	return date, credential
}

// policyBufs holds the buffers policies are written and summed in.
var policyBufs = sync.Pool{New: func() any { return &policyBuf{b: make([]byte, 0, 4096)} }}

type policyBuf struct {
	b   []byte
	sum [sha256.Size]byte
}

// sign returns the form fields for a POST of key under the conditions,
// signed at signingTime and valid until expiration, in name order; extra
// is room for the fields the caller adds.
func (p *postSigner) sign(creds aws.Credentials, key string, conds []postCondition, signingTime, expiration time.Time, extra int) []FormField {
	date, credential := p.stamps(creds.AccessKeyID, signingTime)

	pb := policyBufs.Get().(*policyBuf)
	b := pb.b[:0]
	b = append(b, `{"conditions":[{"X-Amz-Algorithm":"AWS4-HMAC-SHA256"},{"bucket":`...)
	b = jsonstr.Append(b, p.bucket)
	b = append(b, `},{"X-Amz-Credential":`...)
	b = jsonstr.Append(b, credential)
	b = append(b, `},{"X-Amz-Date":`...)
	b = jsonstr.Append(b, date)
	b = append(b, '}')
	if creds.SessionToken != "" {
		b = append(b, `,{"X-Amz-Security-Token":`...)
		b = jsonstr.Append(b, creds.SessionToken)
		b = append(b, '}')
	}
	for _, c := range conds {
		b = append(b, ',')
		b = c.appendJSON(b)
	}
	b = append(b, `],"expiration":"`...)
	b = expiration.UTC().AppendFormat(b, time.RFC3339)
	b = append(b, `"}`...)

	// The policy's base64 goes after the document in the same buffer.
	n := len(b)
	b = base64.StdEncoding.AppendEncode(b, b[:n])
	policy := string(b[n:])

	macs := p.key(creds.SecretAccessKey, signingTime)
	m := macs.Get().(hash.Hash)
	m.Reset()
	m.Write(b[n:])
	var hexSum [2 * sha256.Size]byte
	hex.Encode(hexSum[:], m.Sum(pb.sum[:0]))
	macs.Put(m)
	pb.b = b[:0]
	policyBufs.Put(pb)

	// In name order, as the caller sorts them.
	fields := make([]FormField, 0, 7+extra)
	fields = append(fields, FormField{"X-Amz-Algorithm", "AWS4-HMAC-SHA256"}, FormField{"X-Amz-Credential", credential},
		FormField{"X-Amz-Date", date})
	if creds.SessionToken != "" {
		fields = append(fields, FormField{"X-Amz-Security-Token", creds.SessionToken})
	}
	return append(fields, FormField{"X-Amz-Signature", string(hexSum[:])}, FormField{"key", key}, FormField{"policy", policy})
}

// postCondition is one policy condition: an exact match written as
// {"field":"value"}, ["eq","$Field","value"] when eq is set (field then
// carries its $), or
// ["content-length-range",min,max] when max is above 0.
type postCondition struct {
	field, value string
	eq           bool
	min, max     int64
}

func (c postCondition) appendJSON(b []byte) []byte {
	switch {
	case c.max > 0:
		b = append(b, `["content-length-range",`...)
		b = strconv.AppendInt(b, c.min, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, c.max, 10)
		return append(b, ']')
	case c.eq:
		b = append(b, `["eq",`...)
		b = jsonstr.Append(b, c.field)
		b = append(b, ',')
		b = jsonstr.Append(b, c.value)
		return append(b, ']')
	}
	b = append(b, '{')
	b = jsonstr.Append(b, c.field)
	b = append(b, ':')
	b = jsonstr.Append(b, c.value)
	return append(b, '}')
}

// sdkValue is the condition in the form the SDK's PresignPostOptions take.
func (c postCondition) sdkValue() any {
	switch {
	case c.max > 0:
		return []any{"content-length-range", c.min, c.max}
	case c.eq:
		return []any{"eq", c.field, c.value}
	}
	return map[string]string{c.field: c.value}
}
