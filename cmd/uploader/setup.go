package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"uploader/internal/config"
	"uploader/internal/s3store"
	"uploader/internal/setup"
)

const setupUsage = `usage: uploader setup [--dry-run] [--apply-bucket-policy] [--distribution-arn ARN]
       uploader setup --iam-policy | --bucket-policy

Makes the bucket S3_BUCKET ready for the app: creates it if missing, sets
the CORS rule for APP_URL and the lifecycle rule for incoming/, checks Block
Public Access and Object Ownership, and prints the IAM policy of the upload
user and, given the CloudFront distribution's ARN, the bucket policy that
lets it read variants/. Running it again changes nothing. --iam-policy and
--bucket-policy print only that JSON document (to redirect into a file) and
contact nothing.

Run it with credentials that may change the bucket's settings (an
administrator's, e.g. AWS_PROFILE=admin with AWS_ACCESS_KEY_ID unset), not
the upload user's: that user is refused on purpose.
`

// runSetup is `uploader setup`. It returns an error when a step failed;
// warnings and steps the endpoint does not support do not fail it.
func runSetup(ctx context.Context, cfg config.Config, log *slog.Logger, stdout io.Writer, args []string) error {
	fs := flag.NewFlagSet("setup", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() { fmt.Fprint(stdout, setupUsage); fs.PrintDefaults() }
	dryRun := fs.Bool("dry-run", false, "print what would change, change nothing")
	apply := fs.Bool("apply-bucket-policy", false, "add the CloudFront statement to the bucket policy (other statements are kept)")
	arn := fs.String("distribution-arn", cfg.CloudFrontDistributionARN, "CloudFront distribution ARN (CLOUDFRONT_DISTRIBUTION_ARN)")
	iamOnly := fs.Bool("iam-policy", false, "print only the upload user's IAM policy JSON; change nothing")
	bucketOnly := fs.Bool("bucket-policy", false, "print only the CloudFront bucket policy JSON (needs the distribution ARN); change nothing")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("setup: unexpected arguments %q", fs.Args())
	}
	var missing []error
	if cfg.S3Bucket == "" {
		missing = append(missing, errors.New("S3_BUCKET is not set: name the bucket to set up"))
	}
	if cfg.AppURL == "" {
		missing = append(missing, errors.New("APP_URL is not set: give the app's public origin, e.g. https://uploads.example.com (the CORS rule allows it)"))
	}
	if cfg.S3Bucket != "" && (*iamOnly || *bucketOnly) {
		return printPolicy(stdout, cfg, *arn, *bucketOnly)
	}
	if err := errors.Join(missing...); err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	store, err := s3store.New(ctx, s3store.Config{
		Bucket: cfg.S3Bucket, Region: cfg.S3Region, Endpoint: cfg.S3Endpoint,
		AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey, SessionToken: cfg.S3SessionToken,
	})
	if err != nil {
		return fmt.Errorf("S3: %w", err)
	}
	log.Debug("setup", "bucket", cfg.S3Bucket, "s3_endpoint", or(cfg.S3Endpoint, "AWS"), "dry_run", *dryRun)
	report := setup.Run(ctx, store, setup.Options{
		AppURL: cfg.AppURL, Region: cfg.S3Region, CloudFrontARN: *arn,
		ApplyBucketPolicy: *apply, DryRun: *dryRun,
	}, stdout)
	if err := report.Err(); err != nil {
		return fmt.Errorf("setup did not finish:\n%w", err)
	}
	return nil
}

// printPolicy writes one policy document alone, ready for a file.
func printPolicy(w io.Writer, cfg config.Config, arn string, bucketPolicy bool) error {
	var p setup.Policy
	var err error
	if bucketPolicy {
		if arn == "" {
			return errors.New("--bucket-policy needs CLOUDFRONT_DISTRIBUTION_ARN or --distribution-arn")
		}
		p, err = setup.CloudFrontBucketPolicy(cfg.S3Bucket, cfg.S3Region, arn)
	} else {
		p, err = setup.UploadUserPolicy(cfg.S3Bucket, cfg.S3Region, arn)
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, p.JSON())
	return err
}
