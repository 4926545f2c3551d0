package s3store

// This file holds the bucket-level reads and writes `uploader setup` needs:
// CORS, lifecycle, Block Public Access, Object Ownership and the bucket
// policy. Errors keep the SDK's error (errors.As finds a smithy.APIError),
// so the caller can name the AWS error code and the permission it lacks.

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// CORSRule is one rule of a bucket's CORS configuration.
type CORSRule struct {
	ID             string
	AllowedOrigins []string
	AllowedMethods []string
	AllowedHeaders []string
	ExposeHeaders  []string
	MaxAgeSeconds  int
}

// GetCORS returns the bucket's CORS rules; a bucket without any returns
// none and no error.
func (s *Store) GetCORS(ctx context.Context) ([]CORSRule, error) {
	out, err := s.client.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: &s.bucket})
	if err != nil {
		if hasCode(err, "NoSuchCORSConfiguration") {
			return nil, nil
		}
		return nil, fmt.Errorf("s3store: get CORS of bucket %s: %w", s.bucket, err)
	}
	rules := make([]CORSRule, len(out.CORSRules))
	for i, r := range out.CORSRules {
		rules[i] = CORSRule{
			ID:             aws.ToString(r.ID),
			AllowedOrigins: r.AllowedOrigins,
			AllowedMethods: r.AllowedMethods,
			AllowedHeaders: r.AllowedHeaders,
			ExposeHeaders:  r.ExposeHeaders,
			MaxAgeSeconds:  int(aws.ToInt32(r.MaxAgeSeconds)),
		}
	}
	return rules, nil
}

// SetCORS replaces the bucket's CORS configuration with rules.
func (s *Store) SetCORS(ctx context.Context, rules []CORSRule) error {
	if len(rules) == 0 {
		return errors.New("s3store: SetCORS needs at least one rule")
	}
	cfg := &types.CORSConfiguration{}
	for _, r := range rules {
		cr := types.CORSRule{
			AllowedOrigins: r.AllowedOrigins,
			AllowedMethods: r.AllowedMethods,
			AllowedHeaders: r.AllowedHeaders,
			ExposeHeaders:  r.ExposeHeaders,
		}
		if r.ID != "" {
			cr.ID = aws.String(r.ID)
		}
		if r.MaxAgeSeconds > 0 {
			cr.MaxAgeSeconds = aws.Int32(int32(r.MaxAgeSeconds))
		}
		cfg.CORSRules = append(cfg.CORSRules, cr)
	}
	if _, err := s.client.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: &s.bucket, CORSConfiguration: cfg}); err != nil {
		return fmt.Errorf("s3store: put CORS on bucket %s: %w", s.bucket, err)
	}
	return nil
}

// LifecycleRule is the part of a lifecycle rule the app manages: expiry of
// the objects under a prefix and clean-up of unfinished multipart uploads.
type LifecycleRule struct {
	ID      string
	Prefix  string
	Enabled bool
	// ExpireDays deletes objects this many days after they were written;
	// 0 = no expiry.
	ExpireDays int
	// AbortMultipartDays aborts multipart uploads left unfinished this
	// many days; 0 = never.
	AbortMultipartDays int
}

// GetLifecycle returns the bucket's lifecycle rules as LifecycleRules.
// Rules may hold more (transitions, tags) than a LifecycleRule shows;
// PutLifecycleRule keeps such rules untouched. A bucket without a
// lifecycle configuration returns none and no error.
func (s *Store) GetLifecycle(ctx context.Context) ([]LifecycleRule, error) {
	raw, err := s.lifecycle(ctx)
	if err != nil {
		return nil, err
	}
	rules := make([]LifecycleRule, len(raw))
	for i, r := range raw {
		rules[i] = LifecycleRule{
			ID:      aws.ToString(r.ID),
			Prefix:  rulePrefix(r),
			Enabled: r.Status == types.ExpirationStatusEnabled,
		}
		if r.Expiration != nil {
			rules[i].ExpireDays = int(aws.ToInt32(r.Expiration.Days))
		}
		if r.AbortIncompleteMultipartUpload != nil {
			rules[i].AbortMultipartDays = int(aws.ToInt32(r.AbortIncompleteMultipartUpload.DaysAfterInitiation))
		}
	}
	return rules, nil
}

// PutLifecycleRule adds rule to the bucket's lifecycle configuration, or
// replaces the rule with the same ID, leaving every other rule as it is
// (S3 has no call that writes one rule alone).
func (s *Store) PutLifecycleRule(ctx context.Context, rule LifecycleRule) error {
	if rule.ID == "" {
		return errors.New("s3store: a lifecycle rule needs an ID")
	}
	raw, err := s.lifecycle(ctx)
	if err != nil {
		return err
	}
	lr := types.LifecycleRule{
		ID:     aws.String(rule.ID),
		Status: types.ExpirationStatusDisabled,
		Filter: &types.LifecycleRuleFilter{Prefix: aws.String(rule.Prefix)},
	}
	if rule.Enabled {
		lr.Status = types.ExpirationStatusEnabled
	}
	if rule.ExpireDays > 0 {
		lr.Expiration = &types.LifecycleExpiration{Days: aws.Int32(int32(rule.ExpireDays))}
	}
	if rule.AbortMultipartDays > 0 {
		lr.AbortIncompleteMultipartUpload = &types.AbortIncompleteMultipartUpload{
			DaysAfterInitiation: aws.Int32(int32(rule.AbortMultipartDays)),
		}
	}
	i := slices.IndexFunc(raw, func(r types.LifecycleRule) bool { return aws.ToString(r.ID) == rule.ID })
	if i >= 0 {
		raw[i] = lr
	} else {
		raw = append(raw, lr)
	}
	_, err = s.client.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{
		Bucket:                 &s.bucket,
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: raw},
	})
	if err != nil {
		return fmt.Errorf("s3store: put lifecycle configuration on bucket %s: %w", s.bucket, err)
	}
	return nil
}

func (s *Store) lifecycle(ctx context.Context) ([]types.LifecycleRule, error) {
	out, err := s.client.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: &s.bucket})
	if err != nil {
		if hasCode(err, "NoSuchLifecycleConfiguration") {
			return nil, nil
		}
		return nil, fmt.Errorf("s3store: get lifecycle configuration of bucket %s: %w", s.bucket, err)
	}
	return out.Rules, nil
}

// rulePrefix is the key prefix a rule applies to, from its filter or from
// the older top-level Prefix field.
func rulePrefix(r types.LifecycleRule) string {
	if r.Filter != nil {
		if r.Filter.Prefix != nil {
			return *r.Filter.Prefix
		}
		if r.Filter.And != nil {
			return aws.ToString(r.Filter.And.Prefix)
		}
	}
	//lint:ignore SA1019 rules written before Filter existed still carry it
	return aws.ToString(r.Prefix)
}

// PublicAccessBlock is the bucket's Block Public Access setting.
type PublicAccessBlock struct {
	Configured            bool // false: the bucket has no setting of its own
	BlockPublicACLs       bool
	IgnorePublicACLs      bool
	BlockPublicPolicy     bool
	RestrictPublicBuckets bool
}

// AllOn reports whether all four protections are on.
func (p PublicAccessBlock) AllOn() bool {
	return p.BlockPublicACLs && p.IgnorePublicACLs && p.BlockPublicPolicy && p.RestrictPublicBuckets
}

// GetPublicAccessBlock reads the bucket's Block Public Access setting. A
// bucket without one returns a PublicAccessBlock with Configured false.
func (s *Store) GetPublicAccessBlock(ctx context.Context) (PublicAccessBlock, error) {
	out, err := s.client.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: &s.bucket})
	if err != nil {
		if hasCode(err, "NoSuchPublicAccessBlockConfiguration") {
			return PublicAccessBlock{}, nil
		}
		return PublicAccessBlock{}, fmt.Errorf("s3store: get public access block of bucket %s: %w", s.bucket, err)
	}
	c := out.PublicAccessBlockConfiguration
	if c == nil {
		return PublicAccessBlock{}, nil
	}
	return PublicAccessBlock{
		Configured:            true,
		BlockPublicACLs:       aws.ToBool(c.BlockPublicAcls),
		IgnorePublicACLs:      aws.ToBool(c.IgnorePublicAcls),
		BlockPublicPolicy:     aws.ToBool(c.BlockPublicPolicy),
		RestrictPublicBuckets: aws.ToBool(c.RestrictPublicBuckets),
	}, nil
}

// GetObjectOwnership returns the bucket's Object Ownership setting
// ("BucketOwnerEnforced" when ACLs are disabled), or "" when it has none.
func (s *Store) GetObjectOwnership(ctx context.Context) (string, error) {
	out, err := s.client.GetBucketOwnershipControls(ctx, &s3.GetBucketOwnershipControlsInput{Bucket: &s.bucket})
	if err != nil {
		if hasCode(err, "OwnershipControlsNotFoundError") {
			return "", nil
		}
		return "", fmt.Errorf("s3store: get ownership controls of bucket %s: %w", s.bucket, err)
	}
	if out.OwnershipControls == nil || len(out.OwnershipControls.Rules) == 0 {
		return "", nil
	}
	return string(out.OwnershipControls.Rules[0].ObjectOwnership), nil
}

// GetBucketPolicy returns the bucket policy document, or "" when the
// bucket has none.
func (s *Store) GetBucketPolicy(ctx context.Context) (string, error) {
	out, err := s.client.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: &s.bucket})
	if err != nil {
		if hasCode(err, "NoSuchBucketPolicy") {
			return "", nil
		}
		return "", fmt.Errorf("s3store: get policy of bucket %s: %w", s.bucket, err)
	}
	return aws.ToString(out.Policy), nil
}

// PutBucketPolicy replaces the bucket policy with the JSON document policy.
func (s *Store) PutBucketPolicy(ctx context.Context, policy string) error {
	if _, err := s.client.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: &s.bucket, Policy: &policy}); err != nil {
		return fmt.Errorf("s3store: put policy on bucket %s: %w", s.bucket, err)
	}
	return nil
}

// hasCode reports whether err carries the S3 error code.
func hasCode(err error, code string) bool {
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorCode() == code
}
