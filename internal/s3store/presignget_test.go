package s3store_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// presignedGet builds a plain HTTP GET for key, signed with the SDK, so a
// test can see the headers S3 serves the object with.
func presignedGet(t *testing.T, key string) (*http.Request, error) {
	t.Helper()
	client := s3.New(s3.Options{
		Region:       gw.Region,
		BaseEndpoint: aws.String(gw.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(gw.AccessKey, gw.SecretKey, ""),
	})
	req, err := s3.NewPresignClient(client).PresignGetObject(context.Background(),
		&s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
	if err != nil {
		return nil, err
	}
	return http.NewRequest(req.Method, req.URL, nil)
}
