package s3store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"uploader/internal/upload"
)

// Part is one stored part of a multipart upload. ETag is as S3 sends it,
// quotes included.
type Part struct {
	Number int
	Size   int64
	ETag   string
}

// MultipartUpload is one unfinished multipart upload of the bucket.
type MultipartUpload struct {
	Key       string
	UploadID  string
	Initiated time.Time
}

// CreateMultipart starts a multipart upload at key with the given
// Content-Type and returns S3's upload ID.
func (s *Store) CreateMultipart(ctx context.Context, key, contentType string) (string, error) {
	out, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: &s.bucket, Key: &key, ContentType: &contentType,
	})
	if err != nil {
		return "", s.wrap("create multipart", key, err)
	}
	return aws.ToString(out.UploadId), nil
}

// PresignPart signs an UploadPart PUT of exactly size bytes for part
// number of the upload. Content-Length is one of the signed headers, so S3
// refuses a body of any other size (SignatureDoesNotMatch).
func (s *Store) PresignPart(ctx context.Context, key, uploadID string, number int, size int64, expires time.Duration) (string, error) {
	if size <= 0 {
		return "", upload.Errorf(upload.EINVALID, "part %d: size must be positive", number)
	}
	req, err := s.presign.PresignUploadPart(ctx, &s3.UploadPartInput{
		Bucket: &s.bucket, Key: &key, UploadId: &uploadID,
		PartNumber: aws.Int32(int32(number)), ContentLength: aws.Int64(size),
	}, s3.WithPresignExpires(expires))
	if err != nil {
		return "", fmt.Errorf("s3store: presign part %d of %s: %w", number, key, err)
	}
	return req.URL, nil
}

// ListParts returns the parts stored so far, by number. An upload ID S3
// does not know (completed, aborted, or never made) is ENOTFOUND.
func (s *Store) ListParts(ctx context.Context, key, uploadID string) ([]Part, error) {
	var parts []Part
	p := s3.NewListPartsPaginator(s.client, &s3.ListPartsInput{Bucket: &s.bucket, Key: &key, UploadId: &uploadID})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, s.wrapMultipart("list parts", key, err)
		}
		for _, pt := range page.Parts {
			parts = append(parts, Part{Number: int(aws.ToInt32(pt.PartNumber)), Size: aws.ToInt64(pt.Size), ETag: aws.ToString(pt.ETag)})
		}
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].Number < parts[j].Number })
	return parts, nil
}

// CompleteMultipart joins the parts, in number order, into the object at
// key. S3 checks every ETag; a wrong one answers InvalidPart, returned as
// EINVALID.
func (s *Store) CompleteMultipart(ctx context.Context, key, uploadID string, parts []Part) error {
	cp := make([]types.CompletedPart, len(parts))
	for i, p := range parts {
		cp[i] = types.CompletedPart{PartNumber: aws.Int32(int32(p.Number)), ETag: aws.String(p.ETag)}
	}
	_, err := s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &s.bucket, Key: &key, UploadId: &uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: cp},
	})
	if err != nil {
		if hasCode(err, "InvalidPart") || hasCode(err, "InvalidPartOrder") || hasCode(err, "EntityTooSmall") {
			return upload.Errorf(upload.EINVALID, "Storage refused the parts: %s", apiMessage(err))
		}
		return s.wrapMultipart("complete multipart", key, err)
	}
	return nil
}

// AbortMultipart drops the upload and every part stored for it. An upload
// that is already gone is not an error, so a retried cleanup succeeds.
func (s *Store) AbortMultipart(ctx context.Context, key, uploadID string) error {
	_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: &key, UploadId: &uploadID})
	if err != nil && upload.ErrorCode(s.wrapMultipart("abort", key, err)) != upload.ENOTFOUND {
		return s.wrap("abort multipart", key, err)
	}
	return nil
}

// ListMultipartUploads returns the unfinished multipart uploads whose key
// starts with prefix.
func (s *Store) ListMultipartUploads(ctx context.Context, prefix string) ([]MultipartUpload, error) {
	var ups []MultipartUpload
	in := &s3.ListMultipartUploadsInput{Bucket: &s.bucket, Prefix: &prefix}
	for {
		out, err := s.client.ListMultipartUploads(ctx, in)
		if err != nil {
			return nil, s.wrap("list multipart uploads", prefix, err)
		}
		for _, u := range out.Uploads {
			ups = append(ups, MultipartUpload{Key: aws.ToString(u.Key), UploadID: aws.ToString(u.UploadId), Initiated: aws.ToTime(u.Initiated)})
		}
		if !aws.ToBool(out.IsTruncated) || (aws.ToString(out.NextKeyMarker) == "" && aws.ToString(out.NextUploadIdMarker) == "") {
			return ups, nil
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}

// wrapMultipart is wrap, with an unknown upload ID (NoSuchUpload) as
// ENOTFOUND too.
func (s *Store) wrapMultipart(op, key string, err error) error {
	if hasCode(err, "NoSuchUpload") {
		return upload.Errorf(upload.ENOTFOUND, "multipart upload of %s does not exist", key)
	}
	return s.wrap(op, key, err)
}

func apiMessage(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		if m := api.ErrorMessage(); m != "" {
			return m
		}
		return api.ErrorCode()
	}
	return "unknown error"
}
