package setup

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// Policy is an IAM or bucket policy document.
type Policy struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one statement of a Policy. Action and Resource are lists
// even when they hold one value, which IAM accepts and which keeps the
// JSON easy to check.
type Statement struct {
	Sid       string                       `json:"Sid,omitempty"`
	Effect    string                       `json:"Effect"`
	Principal map[string]string            `json:"Principal,omitempty"`
	Action    []string                     `json:"Action"`
	Resource  []string                     `json:"Resource"`
	Condition map[string]map[string]string `json:"Condition,omitempty"`
}

// policyVersion is the only current version of the IAM policy language.
const policyVersion = "2012-10-17"

// CloudFrontStatementID is the Sid of the bucket-policy statement that
// lets CloudFront read variants; setup finds and replaces it by this id.
const CloudFrontStatementID = "AllowCloudFrontReadVariants"

// partition is the ARN partition of an AWS region.
func partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

// BucketARN is the ARN of the bucket itself, what s3:ListBucket applies to.
func BucketARN(bucket, region string) string {
	return "arn:" + partition(region) + ":s3:::" + bucket
}

// ObjectsARN is the ARN of every object in the bucket, what object actions
// apply to.
func ObjectsARN(bucket, region string) string { return BucketARN(bucket, region) + "/*" }

// distributionARN matches the ARN of a CloudFront distribution:
// arn:aws:cloudfront::ACCOUNT:distribution/ID.
var distributionARN = regexp.MustCompile(`^arn:aws[a-z-]*:cloudfront::[0-9]{12}:distribution/([A-Z0-9]+)$`)

// DistributionID returns the id at the end of a CloudFront distribution
// ARN, or an error naming CLOUDFRONT_DISTRIBUTION_ARN when arn is not one.
func DistributionID(arn string) (string, error) {
	m := distributionARN.FindStringSubmatch(arn)
	if m == nil {
		return "", fmt.Errorf("CLOUDFRONT_DISTRIBUTION_ARN=%q: use the distribution's ARN, e.g. arn:aws:cloudfront::111122223333:distribution/EDFDVBD6EXAMPLE", arn)
	}
	return m[1], nil
}

// UploadUserPolicy is the least-privilege IAM policy of the user whose keys
// the web and worker dynos use. It grants only what the app calls:
//   - s3:PutObject (the presigned POST, variants, the private original copy),
//     s3:GetObject (HeadObject, the worker's download, the copy's source) and
//     s3:DeleteObject (DeleteObjects, the lifecycle of an upload), on the
//     objects, arn:aws:s3:::BUCKET/*;
//   - s3:ListBucket (listing prefixes, HeadBucket for the health check) on the
//     bucket itself, arn:aws:s3:::BUCKET: on BUCKET/* it would grant nothing;
//   - cloudfront:CreateInvalidation on the distribution, when its ARN is
//     given, for deletes.
//
// No ACL actions: the bucket's Object Ownership is BucketOwnerEnforced, so
// ACLs are disabled, and the app never sets one.
func UploadUserPolicy(bucket, region, cloudFrontARN string) (Policy, error) {
	if bucket == "" {
		return Policy{}, fmt.Errorf("S3_BUCKET is empty")
	}
	p := Policy{Version: policyVersion, Statement: []Statement{
		{
			Sid:      "UploaderObjects",
			Effect:   "Allow",
			Action:   []string{"s3:PutObject", "s3:GetObject", "s3:DeleteObject"},
			Resource: []string{ObjectsARN(bucket, region)},
		},
		{
			Sid:      "UploaderListBucket",
			Effect:   "Allow",
			Action:   []string{"s3:ListBucket"},
			Resource: []string{BucketARN(bucket, region)},
		},
	}}
	if cloudFrontARN != "" {
		if _, err := DistributionID(cloudFrontARN); err != nil {
			return Policy{}, err
		}
		p.Statement = append(p.Statement, Statement{
			Sid:      "UploaderInvalidateCDN",
			Effect:   "Allow",
			Action:   []string{"cloudfront:CreateInvalidation"},
			Resource: []string{cloudFrontARN},
		})
	}
	return p, nil
}

// CloudFrontStatement is the bucket-policy statement that lets one
// CloudFront distribution, through Origin Access Control, read the objects
// under variants/ and nothing else: originals and incoming files stay
// private even to the CDN.
func CloudFrontStatement(bucket, region, cloudFrontARN string) (Statement, error) {
	if _, err := DistributionID(cloudFrontARN); err != nil {
		return Statement{}, err
	}
	return Statement{
		Sid:       CloudFrontStatementID,
		Effect:    "Allow",
		Principal: map[string]string{"Service": "cloudfront.amazonaws.com"},
		Action:    []string{"s3:GetObject"},
		Resource:  []string{BucketARN(bucket, region) + "/variants/*"},
		Condition: map[string]map[string]string{"StringEquals": {"AWS:SourceArn": cloudFrontARN}},
	}, nil
}

// CloudFrontBucketPolicy is a bucket policy holding only
// CloudFrontStatement, ready to paste into the bucket's Permissions tab.
func CloudFrontBucketPolicy(bucket, region, cloudFrontARN string) (Policy, error) {
	st, err := CloudFrontStatement(bucket, region, cloudFrontARN)
	if err != nil {
		return Policy{}, err
	}
	return Policy{Version: policyVersion, Statement: []Statement{st}}, nil
}

// JSON is the policy indented for reading and pasting.
func (p Policy) JSON() string {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		panic(err) // a Policy always marshals
	}
	return string(b)
}

// mergeStatement returns the bucket policy doc with st in place of the
// statement with the same Sid, or added to it; other statements are kept
// as they are. changed is false when doc already holds st.
func mergeStatement(doc string, st Statement) (merged string, changed bool, err error) {
	var p map[string]any
	if strings.TrimSpace(doc) == "" {
		p = map[string]any{"Version": policyVersion}
	} else if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return "", false, fmt.Errorf("the bucket's current policy is not JSON: %w", err)
	}
	want, err := asAny(st)
	if err != nil {
		return "", false, err
	}
	var list []any
	switch s := p["Statement"].(type) {
	case []any:
		list = s
	case map[string]any: // a lone statement may be written without the list
		list = []any{s}
	}
	found := false
	for i, old := range list {
		m, ok := old.(map[string]any)
		if !ok || m["Sid"] != st.Sid {
			continue
		}
		found = true
		if sameStatement(m, want) {
			return doc, false, nil
		}
		list[i] = want
	}
	if !found {
		list = append(list, want)
	}
	p["Statement"] = list
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return "", false, err
	}
	return string(b), true, nil
}

func asAny(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

// sameStatement compares two statements as IAM reads them: a single
// string and a list of one string are the same.
func sameStatement(a, b map[string]any) bool {
	na, _ := json.Marshal(normalize(a))
	nb, _ := json.Marshal(normalize(b))
	return string(na) == string(nb)
}

func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[k] = normalize(val)
		}
		return out
	case []any:
		if len(x) == 1 {
			return normalize(x[0])
		}
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = normalize(val)
		}
		return out
	}
	return v
}
