package s3store

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Signed is a presigned request for a browser to send as it is: the URL,
// and the headers that were signed with it and must be sent unchanged.
type Signed struct {
	URL     string
	Headers map[string]string
}

// PresignRequest signs an S3 request on key that the SDK has no presigner
// for (CreateMultipartUpload, ListParts, CompleteMultipartUpload,
// AbortMultipartUpload): method, subresource query and headers as given,
// payload unsigned. It is how a client that drives S3 itself (Uppy) gets
// each request signed by the server.
func (s *Store) PresignRequest(ctx context.Context, method, key string, query url.Values, headers map[string]string, expires time.Duration) (Signed, error) {
	// The object URL as the SDK builds it (path-style or virtual host).
	head, err := s.presign.PresignHeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return Signed{}, fmt.Errorf("s3store: presign %s %s: %w", method, key, err)
	}
	u, err := url.Parse(head.URL)
	if err != nil {
		return Signed{}, err
	}
	q := url.Values{}
	for k, vs := range query {
		q[k] = vs
	}
	q.Set("X-Amz-Expires", strconv.Itoa(int(expires.Seconds())))
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return Signed{}, err
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	creds, err := s.client.Options().Credentials.Retrieve(ctx)
	if err != nil {
		return Signed{}, fmt.Errorf("s3store: credentials: %w", err)
	}
	signed, _, err := v4.NewSigner().PresignHTTP(ctx, creds, req, "UNSIGNED-PAYLOAD", "s3", s.client.Options().Region, time.Now())
	if err != nil {
		return Signed{}, fmt.Errorf("s3store: presign %s %s: %w", method, key, err)
	}
	return Signed{URL: signed, Headers: headers}, nil
}
