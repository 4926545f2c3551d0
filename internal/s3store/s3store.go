// Package s3store is the S3 adapter: it signs the POST policies browsers
// upload with, and reads, writes, copies, lists and deletes the objects the
// worker and the web layer handle. It speaks aws-sdk-go-v2, to AWS or to
// any S3 endpoint (the embedded versitygw in development and tests).
package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"uploader/internal/upload"
)

// RequestTimeout bounds one S3 request, body included (the SDK retries a
// timed-out request). The largest transfer is an original of at most a
// profile's max_bytes (20 MB for photos): 20 s allows it at 1 MB/s, far
// below S3's speed within a region.
const RequestTimeout = 20 * time.Second

// DefaultRegion is the region used when Config.Region is empty.
const DefaultRegion = "us-east-1"

// Config says which bucket to use and how to reach it.
type Config struct {
	Bucket, Region, Endpoint string // Endpoint "" = AWS; set = custom endpoint (then path-style addressing)
	AccessKey, SecretKey     string // both empty = the SDK's default credential chain
	SessionToken             string // goes with temporary AccessKey/SecretKey
	PathStyle                bool   // forced true when Endpoint is set
}

// Store reads and writes the objects of one bucket.
type Store struct {
	client  *s3.Client
	presign *s3.PresignClient
	bucket  string
	signer  *postSigner
}

// New builds a Store from cfg. It does not contact S3: call Ping or
// EnsureBucket for that.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("s3store: bucket name is empty")
	}
	if (cfg.AccessKey == "") != (cfg.SecretKey == "") {
		return nil, errors.New("s3store: set both the access key and the secret key, or neither to use the default credential chain")
	}
	if cfg.SessionToken != "" && cfg.AccessKey == "" {
		return nil, errors.New("s3store: a session token needs the temporary access key and secret key it belongs to")
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	if cfg.Endpoint != "" {
		if u, err := url.Parse(cfg.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("s3store: endpoint %q is not an http(s) URL like http://127.0.0.1:9000", cfg.Endpoint)
		}
		// Local and third-party S3 endpoints have no per-bucket host names.
		cfg.PathStyle = true
	}

	// The SDK's default HTTP client has no overall timeout: one request
	// that never answers would hold a job (or a web request) forever.
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(cfg.Region),
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(RequestTimeout)),
	}
	if cfg.AccessKey != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, cfg.SessionToken)))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3store: load AWS config: %w", err)
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		o.UsePathStyle = cfg.PathStyle
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
			// S3-compatible servers differ in which of the newer flexible
			// checksums they accept; send one only where the API demands it.
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}
	})
	return &Store{
		client: client, presign: s3.NewPresignClient(client), bucket: cfg.Bucket,
		signer: &postSigner{creds: awsCfg.Credentials, region: cfg.Region, bucket: cfg.Bucket},
	}, nil
}

// Bucket returns the name of the bucket the Store works on.
func (s *Store) Bucket() string { return s.bucket }

// ObjectInfo is what HeadObject tells about an object. ETag is as S3 sends
// it, quotes included.
type ObjectInfo struct {
	Size         int64
	ContentType  string
	ETag         string
	CacheControl string
	Metadata     map[string]string // x-amz-meta-*, without the prefix, names in lower case
}

// Head returns the size, type and ETag of the object at key. A missing
// object is an *upload.Error with code upload.ENOTFOUND.
func (s *Store) Head(ctx context.Context, key string) (ObjectInfo, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return ObjectInfo{}, s.wrap("head", key, err)
	}
	return ObjectInfo{
		Size:         aws.ToInt64(out.ContentLength),
		ContentType:  aws.ToString(out.ContentType),
		ETag:         aws.ToString(out.ETag),
		CacheControl: aws.ToString(out.CacheControl),
		Metadata:     out.Metadata,
	}, nil
}

// Get reads the whole object at key. An object larger than maxBytes is
// refused with upload.ETOOLARGE before (or while) its body is read, so a
// hostile upload cannot make the worker hold more than maxBytes+1 bytes.
func (s *Store) Get(ctx context.Context, key string, maxBytes int64) ([]byte, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return nil, s.wrap("get", key, err)
	}
	defer out.Body.Close()
	size := aws.ToInt64(out.ContentLength)
	if size > maxBytes {
		return nil, tooLarge(maxBytes)
	}
	// The length header is only a claim: read at most one byte past the
	// limit to notice a body that outgrows it.
	var buf bytes.Buffer
	buf.Grow(int(max(size, 0)) + bytes.MinRead)
	if _, err := buf.ReadFrom(io.LimitReader(out.Body, limitPlusOne(maxBytes))); err != nil {
		return nil, classify(fmt.Errorf("s3store: get %s: read body: %w", key, err))
	}
	if int64(buf.Len()) > maxBytes {
		return nil, tooLarge(maxBytes)
	}
	return buf.Bytes(), nil
}

func limitPlusOne(n int64) int64 {
	if n < 0 {
		return 0
	}
	if n == math.MaxInt64 {
		return n
	}
	return n + 1
}

func tooLarge(maxBytes int64) error {
	return upload.Errorf(upload.ETOOLARGE, "The file is larger than the limit of %d bytes.", maxBytes)
}

// Put writes data at key with the given Content-Type and Cache-Control
// (either may be empty).
func (s *Store) Put(ctx context.Context, key string, data []byte, contentType, cacheControl string) error {
	in := &s3.PutObjectInput{
		Bucket:        &s.bucket,
		Key:           &key,
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
	}
	if contentType != "" {
		in.ContentType = &contentType
	}
	if cacheControl != "" {
		in.CacheControl = &cacheControl
	}
	if _, err := s.client.PutObject(ctx, in); err != nil {
		return s.wrap("put", key, err)
	}
	return nil
}

// Copy copies the object at srcKey to dstKey inside the bucket, with its
// Content-Type and other metadata.
func (s *Store) Copy(ctx context.Context, srcKey, dstKey string) error {
	// CopySource is "bucket/key", URL-encoded, slashes kept.
	src := (&url.URL{Path: s.bucket + "/" + srcKey}).EscapedPath()
	_, err := s.client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &s.bucket, Key: &dstKey, CopySource: &src})
	if err != nil {
		return s.wrap("copy", srcKey+" to "+dstKey, err)
	}
	return nil
}

// deleteBatch is the most keys one DeleteObjects request may carry.
const deleteBatch = 1000

// Delete removes the objects at keys. Keys that do not exist are not an
// error, so a retried cleanup succeeds.
func (s *Store) Delete(ctx context.Context, keys ...string) error {
	for len(keys) > 0 {
		n := min(len(keys), deleteBatch)
		ids := make([]types.ObjectIdentifier, n)
		for i, k := range keys[:n] {
			ids[i] = types.ObjectIdentifier{Key: aws.String(k)}
		}
		out, err := s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: &s.bucket,
			Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return s.wrap("delete", keys[0], err)
		}
		for _, e := range out.Errors {
			if c := aws.ToString(e.Code); c == "NoSuchKey" || c == "NotFound" {
				continue
			}
			err := fmt.Errorf("s3store: delete %s: %w", aws.ToString(e.Key), &smithy.GenericAPIError{Code: aws.ToString(e.Code), Message: aws.ToString(e.Message)})
			return classify(err)
		}
		keys = keys[n:]
	}
	return nil
}

// DeletePrefix removes every object whose key starts with prefix. An empty
// prefix is refused: emptying the whole bucket is never what a caller means.
func (s *Store) DeletePrefix(ctx context.Context, prefix string) error {
	if prefix == "" {
		return upload.Errorf(upload.EINVALID, "refusing to delete with an empty prefix")
	}
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return s.wrap("list", prefix, err)
		}
		keys := make([]string, len(page.Contents))
		for i, o := range page.Contents {
			keys[i] = aws.ToString(o.Key)
		}
		if err := s.Delete(ctx, keys...); err != nil {
			return err
		}
	}
	return nil
}

// Object is one entry of a listing.
type Object struct {
	Key          string
	Size         int64
	LastModified time.Time
}

// List returns every object whose key starts with prefix, in key order.
func (s *Store) List(ctx context.Context, prefix string) ([]Object, error) {
	var objs []Object
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, s.wrap("list", prefix, err)
		}
		for _, o := range page.Contents {
			objs = append(objs, Object{
				Key:          aws.ToString(o.Key),
				Size:         aws.ToInt64(o.Size),
				LastModified: aws.ToTime(o.LastModified),
			})
		}
	}
	return objs, nil
}

// EnsureBucket creates the bucket if it does not exist yet; a bucket that
// exists and is ours is fine.
func (s *Store) EnsureBucket(ctx context.Context) error {
	err := s.Ping(ctx)
	if err == nil {
		return nil
	} else if upload.ErrorCode(err) != upload.ENOTFOUND {
		return err
	}
	in := &s3.CreateBucketInput{Bucket: &s.bucket}
	// us-east-1 is the one region that must not be named as a constraint.
	if r := s.client.Options().Region; r != DefaultRegion {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{
			LocationConstraint: types.BucketLocationConstraint(r),
		}
	}
	_, err = s.client.CreateBucket(ctx, in)
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return fmt.Errorf("s3store: create bucket %s: %w", s.bucket, err)
	}
	return nil
}

// PutCORS replaces the bucket's CORS rules with one that lets pages from
// origins POST uploads, PUT their parts (and GET/HEAD objects) with any header, and read the
// ETag of the answer. Browsers cache the preflight for 3000 seconds.
func (s *Store) PutCORS(ctx context.Context, origins []string) error {
	if len(origins) == 0 {
		return upload.Errorf(upload.EINVALID, "CORS needs at least one origin")
	}
	_, err := s.client.PutBucketCors(ctx, &s3.PutBucketCorsInput{
		Bucket: &s.bucket,
		CORSConfiguration: &types.CORSConfiguration{CORSRules: []types.CORSRule{{
			AllowedOrigins: origins,
			AllowedMethods: []string{"POST", "PUT", "GET", "HEAD"}, // PUT: multipart parts
			AllowedHeaders: []string{"*"},
			ExposeHeaders:  []string{"ETag"},
			MaxAgeSeconds:  aws.Int32(3000),
		}}},
	})
	if err != nil {
		return fmt.Errorf("s3store: put CORS on bucket %s: %w", s.bucket, err)
	}
	return nil
}

// Ping checks that the bucket exists and the credentials may reach it. A
// missing bucket is an *upload.Error with code upload.ENOTFOUND.
func (s *Store) Ping(ctx context.Context) error {
	if _, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.bucket}); err != nil {
		if isNotFound(err, true) {
			return upload.Errorf(upload.ENOTFOUND, "bucket %s does not exist", s.bucket)
		}
		return classify(fmt.Errorf("s3store: head bucket %s: %w", s.bucket, err))
	}
	return nil
}

// wrap turns an SDK error into the domain's: a missing object becomes
// upload.ENOTFOUND, and anything else names the operation, keeps its
// cause and gets the code classify gives it.
func (s *Store) wrap(op, key string, err error) error {
	if isNotFound(err, false) {
		return upload.Errorf(upload.ENOTFOUND, "object %s does not exist", key)
	}
	return classify(fmt.Errorf("s3store: %s %s: %w", op, key, err))
}

// isNotFound reports whether err says the object (or, with bucket, the
// bucket) is missing. HEAD answers carry no body, hence the bare NotFound.
func isNotFound(err error, bucket bool) bool {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return false
	}
	switch api.ErrorCode() {
	case "NotFound", "NoSuchKey":
		return true
	case "NoSuchBucket":
		return bucket
	}
	return false
}
