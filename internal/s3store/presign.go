package s3store

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"uploader/internal/upload"
)

// PostPolicy is what one browser upload may do: write exactly Key, with
// exactly ContentType, between 1 and MaxBytes bytes, before Expires runs out.
type PostPolicy struct {
	Key                   string        // exact key, server-chosen (incoming/{id})
	ContentType           string        // exact Content-Type the upload must carry
	MaxBytes              int64         // content-length-range 1..MaxBytes
	Expires               time.Duration // how long the policy stays valid; must be > 0
	SuccessActionStatus   int           // 0 means 201; ignored when SuccessActionRedirect is set, as S3 does
	SuccessActionRedirect string        // no-JS flow: S3 answers 303 to this URL (+ ?bucket=&key=&etag=)
	// Metadata is stored with the object as x-amz-meta-{Name}, each an
	// exact-match condition: the facts the upload's row is made from.
	Metadata []upload.MetaField
}

// PresignedPost is a signed POST policy, ready to go into a form: the
// browser POSTs every field of Fields, then the file as `file`, to URL.
type PresignedPost struct {
	URL       string      // where the browser POSTs (path-style for custom endpoints: http://host:port/bucket)
	Fields    []FormField // every form field to send before `file`, sorted by name (byte order), each once
	ExpiresAt time.Time   // when S3 starts refusing the policy (never later than the real expiry, nor the credentials')
}

// FormField is one field of a POST form.
type FormField struct{ Name, Value string }

// Field returns the value of the named field, or "".
func (p *PresignedPost) Field(name string) string {
	for _, f := range p.Fields {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// FieldMap returns the fields as a map, as a JSON object of them is made.
func (p *PresignedPost) FieldMap() map[string]string { return fieldMap(p.Fields) }

func fieldMap(fs []FormField) map[string]string {
	m := make(map[string]string, len(fs))
	for _, f := range fs {
		m[f.Name] = f.Value
	}
	return m
}

// sortFields sorts form fields by name. Insertion sort: a policy has
// about 14, mostly in order already, where it beats slices.SortFunc.
func sortFields(fs []FormField) {
	for i := 1; i < len(fs); i++ {
		f := fs[i]
		j := i
		for ; j > 0 && fs[j-1].Name > f.Name; j-- {
			fs[j] = fs[j-1]
		}
		fs[j] = f
	}
}

// PresignPost signs a POST policy that lets a browser upload one object
// straight to the bucket. S3 enforces every condition: the exact key, the
// size range 1..MaxBytes, the exact Content-Type, the success action, and
// the expiry; a form field the policy does not name is refused too.
func (s *Store) PresignPost(ctx context.Context, p PostPolicy) (*PresignedPost, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	conds, successField, successValue := p.conditions()
	creds, err := s.signer.creds.Retrieve(ctx)
	if err != nil {
		return nil, classify(fmt.Errorf("s3store: presign POST %s: credentials: %w", p.Key, err))
	}
	postURL, err := s.signer.postURL(ctx, s.presign)
	if err != nil {
		return nil, classify(fmt.Errorf("s3store: presign POST %s: %w", p.Key, err))
	}
	now := time.Now()
	expiresAt := policyExpiry(now, p.Expires, creds)
	if !expiresAt.After(now) {
		return nil, fmt.Errorf("%w: s3store: presign POST %s: the credentials expired at %s",
			upload.Errorf(upload.EUNAVAILABLE, "Could not prepare the upload; please retry in a moment."), p.Key, creds.Expires.UTC().Format(time.RFC3339))
	}
	// A slice, not a map: the map and its 14 inserts cost 4 allocations,
	// and its callers write the fields out in order anyway.
	fields := s.signer.sign(creds, p.Key, conds, now, expiresAt, 2+len(p.Metadata))
	fields = append(fields, FormField{"Content-Type", p.ContentType}, FormField{successField, successValue})
	for _, c := range conds[4:] {
		fields = append(fields, FormField{c.field, c.value})
	}
	sortFields(fields)
	return &PresignedPost{URL: postURL, Fields: fields, ExpiresAt: expiresAt}, nil
}

// policyExpiry is when a policy signed at now lapses: after d, or when the
// credentials that sign it expire if that is sooner (S3 refuses a policy
// whose temporary credentials have expired, so a later expiration would
// only promise the browser time it does not have). It is written in whole
// seconds, rounded down.
func policyExpiry(now time.Time, d time.Duration, creds aws.Credentials) time.Time {
	at := now.Add(d)
	if creds.CanExpire && creds.Expires.Before(at) {
		at = creds.Expires
	}
	return at.UTC().Truncate(time.Second)
}

// presignPostSDK signs the same policy through the SDK's PresignPostObject.
// The service uses the faster postSigner; this one is the reference the
// tests compare it with.
func (s *Store) presignPostSDK(ctx context.Context, p PostPolicy) (*PresignedPost, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	conds, successField, successValue := p.conditions()
	sdkConds := make([]any, len(conds))
	for i, c := range conds {
		sdkConds[i] = c.sdkValue()
	}
	expiresAt := time.Now().Add(p.Expires).UTC().Truncate(time.Second)
	key := p.Key
	out, err := s.presign.PresignPostObject(ctx, &s3.PutObjectInput{Bucket: &s.bucket, Key: &key},
		func(o *s3.PresignPostOptions) {
			o.Expires = p.Expires
			o.Conditions = sdkConds
		})
	if err != nil {
		return nil, fmt.Errorf("s3store: presign POST %s: %w", p.Key, err)
	}
	values := out.Values
	values["Content-Type"] = p.ContentType
	values[successField] = successValue
	for _, m := range p.Metadata {
		values[metaPrefix+m.Name] = m.Value
	}
	fields := make([]FormField, 0, len(values))
	for k, v := range values {
		fields = append(fields, FormField{k, v})
	}
	sortFields(fields)
	return &PresignedPost{URL: out.URL, Fields: fields, ExpiresAt: expiresAt}, nil
}

// conditions are the policy's conditions beyond the SDK's own (algorithm,
// bucket, credential, date): the exact key — in the map form AWS documents,
// which the SDK recognises and does not repeat —, the size range, the exact
// Content-Type, the success action and the exact metadata.
func (p PostPolicy) conditions() (conds []postCondition, successField, successValue string) {
	if p.SuccessActionRedirect != "" {
		successField, successValue = "success_action_redirect", p.SuccessActionRedirect
	} else {
		status := p.SuccessActionStatus
		if status == 0 {
			status = 201
		}
		successField, successValue = "success_action_status", statusText(status)
	}
	conds = make([]postCondition, 0, 4+len(p.Metadata))
	conds = append(conds,
		postCondition{field: "key", value: p.Key},
		postCondition{min: 1, max: p.MaxBytes},
		postCondition{field: "$Content-Type", value: p.ContentType, eq: true},
		postCondition{field: successField, value: successValue},
	)
	for _, m := range p.Metadata {
		conds = append(conds, postCondition{field: metaField(m.Name), value: m.Value})
	}
	return conds, successField, successValue
}

// statusText is strconv.Itoa of a success status, without its
// allocation for the ones S3 accepts.
func statusText(status int) string {
	switch status {
	case 200:
		return "200"
	case 201:
		return "201"
	case 204:
		return "204"
	}
	return strconv.Itoa(status)
}

// metaField is the form field of metadata name; the names the service
// uses are constants, so signing a policy does not build them each time.
func metaField(name string) string {
	switch name {
	case upload.MetaOwner:
		return metaPrefix + upload.MetaOwner
	case upload.MetaUser:
		return metaPrefix + upload.MetaUser
	case upload.MetaProfile:
		return metaPrefix + upload.MetaProfile
	case upload.MetaFilename:
		return metaPrefix + upload.MetaFilename
	}
	return metaPrefix + name
}

// metaPrefix starts the form field, and the header, of user metadata.
const metaPrefix = "x-amz-meta-"

func (p PostPolicy) validate() error {
	switch {
	case p.Key == "":
		return upload.Errorf(upload.EINVALID, "the upload policy needs a key")
	case p.ContentType == "":
		return upload.Errorf(upload.EINVALID, "the upload policy needs a content type")
	case p.MaxBytes < 1:
		return upload.Errorf(upload.EINVALID, "the upload policy needs a size limit of at least 1 byte")
	case p.Expires <= 0:
		// Zero would silently become the SDK's 15 minutes.
		return upload.Errorf(upload.EINVALID, "the upload policy needs a positive expiry")
	}
	switch p.SuccessActionStatus {
	case 0, 200, 201, 204:
	default:
		return upload.Errorf(upload.EINVALID, "success status %d is not one S3 accepts (200, 201, 204)", p.SuccessActionStatus)
	}
	for i, m := range p.Metadata {
		for _, o := range p.Metadata[:i] {
			if o.Name == m.Name {
				// Two conditions on one field no form can meet.
				return upload.Errorf(upload.EINVALID, "metadata %s given twice", m.Name)
			}
		}
		for i := 0; i < len(m.Value); i++ {
			if c := m.Value[i]; c < 0x20 || c >= 0x7f {
				return upload.Errorf(upload.EINVALID, "metadata %s must be printable ASCII (percent-encode it)", m.Name)
			}
		}
	}
	if p.SuccessActionRedirect != "" {
		if u, err := url.Parse(p.SuccessActionRedirect); err != nil || !u.IsAbs() || (u.Scheme != "http" && u.Scheme != "https") {
			return upload.Errorf(upload.EINVALID, "the success redirect %q is not an absolute http(s) URL", p.SuccessActionRedirect)
		}
	}
	return nil
}
