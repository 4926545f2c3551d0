package cdn

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
	"github.com/aws/smithy-go"
)

// Invalidator removes paths from the CDN's caches, so a deleted upload's
// variants stop being served before their one-year cache lifetime ends.
type Invalidator interface {
	Invalidate(ctx context.Context, paths []string) error
}

// NoInvalidation is the Invalidator used when no distribution is set (in
// development the app serves variants itself and caches nothing).
type NoInvalidation struct{}

// Invalidate does nothing.
func (NoInvalidation) Invalidate(context.Context, []string) error { return nil }

// InvalidatorConfig says which distribution to invalidate and how to
// reach the CloudFront API.
type InvalidatorConfig struct {
	DistributionID string // CLOUDFRONT_DISTRIBUTION_ID; empty = NoInvalidation
	// Endpoint replaces the CloudFront API's address; tests point it at a
	// local stand-in. Empty in production.
	Endpoint             string
	AccessKey, SecretKey string // both empty = the SDK's default credential chain
	SessionToken         string // goes with temporary AccessKey/SecretKey
}

// CloudFront creates invalidations on one distribution.
type CloudFront struct {
	client         *cloudfront.Client
	distributionID string
}

// NewInvalidator returns a CloudFront Invalidator for cfg's distribution,
// or NoInvalidation when cfg.DistributionID is empty. It does not call
// CloudFront.
func NewInvalidator(ctx context.Context, cfg InvalidatorConfig) (Invalidator, error) {
	if cfg.DistributionID == "" {
		return NoInvalidation{}, nil
	}
	if (cfg.AccessKey == "") != (cfg.SecretKey == "") {
		return nil, errors.New("cdn: set both the access key and the secret key, or neither to use the default credential chain")
	}
	if cfg.Endpoint != "" {
		if u, err := url.Parse(cfg.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("cdn: CloudFront endpoint %q is not an http(s) URL", cfg.Endpoint)
		}
	}
	// CloudFront is a global service signed in us-east-1.
	opts := []func(*config.LoadOptions) error{config.WithRegion("us-east-1")}
	if cfg.AccessKey != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, cfg.SessionToken)))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("cdn: load AWS config: %w", err)
	}
	client := cloudfront.NewFromConfig(awsCfg, func(o *cloudfront.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	})
	return &CloudFront{client: client, distributionID: cfg.DistributionID}, nil
}

// Invalidate asks CloudFront to drop paths (e.g. "/variants/ID/*") from
// its caches. It returns once CloudFront has accepted the request; the
// invalidation itself completes within minutes. The caller reference is
// unique per call, and the SDK's retries resend it, so a retried request
// never starts a second invalidation.
func (c *CloudFront) Invalidate(ctx context.Context, paths []string) error {
	if len(paths) == 0 {
		return nil
	}
	var nonce [8]byte
	rand.Read(nonce[:])
	ref := "uploader-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + hex.EncodeToString(nonce[:])
	_, err := c.client.CreateInvalidation(ctx, &cloudfront.CreateInvalidationInput{
		DistributionId: aws.String(c.distributionID),
		InvalidationBatch: &types.InvalidationBatch{
			CallerReference: aws.String(ref),
			Paths:           &types.Paths{Quantity: aws.Int32(int32(len(paths))), Items: paths},
		},
	})
	if err != nil {
		var api smithy.APIError
		if errors.As(err, &api) && api.ErrorCode() == "AccessDenied" {
			return fmt.Errorf("cdn: invalidate %v on distribution %s: AccessDenied: the credentials need cloudfront:CreateInvalidation on the distribution: %w",
				paths, c.distributionID, err)
		}
		return fmt.Errorf("cdn: invalidate %v on distribution %s: %w", paths, c.distributionID, err)
	}
	return nil
}
