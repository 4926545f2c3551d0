package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	versitybackend "github.com/versity/versitygw/backend"
	"github.com/versity/versitygw/s3response"
)

// eventBackend wraps the gateway's backend and posts an S3 event record
// to a webhook for every object created, as S3 event notifications do.
//
// It stands in for versitygw's own EventWebhookURL sender, which v1.8.0
// gets wrong in two ways found here: it marshals the record in a goroutine
// from strings that still point into fiber's request buffers, which the
// next request reuses (a data race that `go test -race` reports, and keys
// that can come out garbled), and it takes the key from the request path,
// so a browser's POST upload (path /bucket) yields a record with no key.
// Here the key comes from the backend call itself and is copied first.
type eventBackend struct {
	versitybackend.Backend
	url    string
	region string
	client *http.Client
}

func (b *eventBackend) PutObject(ctx context.Context, in s3response.PutObjectInput) (s3response.PutObjectOutput, error) {
	out, err := b.Backend.PutObject(ctx, in)
	if err == nil && in.Bucket != nil && in.Key != nil {
		var size int64
		if in.ContentLength != nil {
			size = *in.ContentLength
		}
		b.post("s3:ObjectCreated:Put", *in.Bucket, *in.Key, size, out.ETag)
	}
	return out, err
}

func (b *eventBackend) CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput) (s3response.CompleteMultipartUploadResult, string, error) {
	out, version, err := b.Backend.CompleteMultipartUpload(ctx, in)
	if err == nil && in.Bucket != nil && in.Key != nil {
		etag := ""
		if out.ETag != nil {
			etag = *out.ETag
		}
		b.post("s3:ObjectCreated:CompleteMultipartUpload", *in.Bucket, *in.Key, 0, etag)
	}
	return out, version, err
}

type eventRecord struct {
	EventVersion string `json:"eventVersion"`
	EventSource  string `json:"eventSource"`
	AwsRegion    string `json:"awsRegion"`
	EventTime    string `json:"eventTime"`
	EventName    string `json:"eventName"`
	S3           struct {
		S3SchemaVersion string `json:"s3SchemaVersion"`
		Bucket          struct {
			Name string `json:"name"`
			Arn  string `json:"arn"`
		} `json:"bucket"`
		Object struct {
			Key  string `json:"key"`
			Size int64  `json:"size"`
			ETag string `json:"eTag"`
		} `json:"object"`
	} `json:"s3"`
}

// post sends the record after the call returns, without holding up the
// gateway's answer; a webhook that does not answer only loses the event
// (the client's complete and the reconciler still finish the upload).
func (b *eventBackend) post(name, bucket, key string, size int64, etag string) {
	var rec eventRecord
	rec.EventVersion, rec.EventSource, rec.AwsRegion = "2.2", "aws:s3", b.region
	rec.EventTime, rec.EventName = time.Now().UTC().Format(time.RFC3339Nano), name
	rec.S3.S3SchemaVersion = "1.0"
	// Copies: the gateway may reuse the memory behind these strings.
	rec.S3.Bucket.Name, rec.S3.Bucket.Arn = strings.Clone(bucket), "arn:aws:s3:::"+bucket
	rec.S3.Object.Key, rec.S3.Object.Size, rec.S3.Object.ETag = strings.Clone(key), size, strings.Clone(etag)
	body, err := json.Marshal(map[string][]eventRecord{"Records": {rec}})
	if err != nil {
		return
	}
	go func() {
		resp, err := b.client.Post(b.url, "application/json", bytes.NewReader(body))
		if err == nil {
			resp.Body.Close()
		}
	}()
}
