package setup_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/smithy-go"

	"uploader/internal/s3store"
	"uploader/internal/setup"
)

// statement is a policy statement as IAM reads the JSON: Action and
// Resource may be a string or a list.
type statement struct {
	Sid       string
	Effect    string
	Principal json.RawMessage
	Action    stringList
	Resource  stringList
	Condition map[string]map[string]string
}

type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*l = []string{one}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(l))
}

// parsePolicy reads the JSON exactly as setup prints it.
func parsePolicy(t *testing.T, doc string) []statement {
	t.Helper()
	var p struct {
		Version   string
		Statement []statement
	}
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		t.Fatalf("policy is not JSON: %v\n%s", err, doc)
	}
	if p.Version != "2012-10-17" {
		t.Errorf("Version %q, want 2012-10-17", p.Version)
	}
	return p.Statement
}

func TestUploadUserPolicy(t *testing.T) {
	for _, tt := range []struct {
		name, region, arn string
		wantPrefix        string
	}{
		{"S3 only", "eu-west-1", "", "arn:aws:s3:::"},
		{"with CloudFront", "us-east-1", cfARN, "arn:aws:s3:::"},
		{"China partition", "cn-north-1", "", "arn:aws-cn:s3:::"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := setup.UploadUserPolicy("my-uploads", tt.region, tt.arn)
			if err != nil {
				t.Fatal(err)
			}
			grants := map[string][]string{} // action -> resources
			for _, st := range parsePolicy(t, p.JSON()) {
				if st.Effect != "Allow" || len(st.Principal) != 0 || st.Condition != nil {
					t.Errorf("statement %s: Effect %q Principal %s Condition %v, want a plain Allow", st.Sid, st.Effect, st.Principal, st.Condition)
				}
				for _, a := range st.Action {
					grants[a] = append(grants[a], st.Resource...)
				}
			}
			objects, bucket := tt.wantPrefix+"my-uploads/*", tt.wantPrefix+"my-uploads"
			want := map[string][]string{
				"s3:PutObject": {objects}, "s3:GetObject": {objects}, "s3:DeleteObject": {objects},
				"s3:AbortMultipartUpload": {objects}, "s3:ListMultipartUploadParts": {objects},
				"s3:ListBucket": {bucket}, "s3:ListBucketMultipartUploads": {bucket}, // on the bucket: on bucket/* they grant nothing
			}
			if tt.arn != "" {
				want["cloudfront:CreateInvalidation"] = []string{tt.arn}
			}
			if fmt.Sprint(grants) != fmt.Sprint(want) {
				t.Errorf("grants\n%v\nwant\n%v", grants, want)
			}
			for a := range grants {
				if strings.Contains(strings.ToLower(a), "acl") || strings.Contains(a, "*") {
					t.Errorf("action %s: no ACL actions or wildcards wanted", a)
				}
			}
		})
	}
	if _, err := setup.UploadUserPolicy("b", "us-east-1", "arn:aws:s3:::not-a-distribution"); err == nil || !strings.Contains(err.Error(), "CLOUDFRONT_DISTRIBUTION_ARN") {
		t.Errorf("bad ARN: %v, want an error naming CLOUDFRONT_DISTRIBUTION_ARN", err)
	}
}

func TestCloudFrontBucketPolicy(t *testing.T) {
	p, err := setup.CloudFrontBucketPolicy("my-uploads", "us-east-1", cfARN)
	if err != nil {
		t.Fatal(err)
	}
	sts := parsePolicy(t, p.JSON())
	if len(sts) != 1 {
		t.Fatalf("%d statements, want 1", len(sts))
	}
	st := sts[0]
	if st.Effect != "Allow" || strings.Join(strings.Fields(string(st.Principal)), "") != `{"Service":"cloudfront.amazonaws.com"}` {
		t.Errorf("Effect %q Principal %s, want Allow to the CloudFront service principal", st.Effect, st.Principal)
	}
	if !slices.Equal(st.Action, []string{"s3:GetObject"}) {
		t.Errorf("Action %v, want only s3:GetObject", st.Action)
	}
	if !slices.Equal(st.Resource, []string{"arn:aws:s3:::my-uploads/variants/*"}) {
		t.Errorf("Resource %v, want only arn:aws:s3:::my-uploads/variants/*", st.Resource)
	}
	if fmt.Sprint(st.Condition) != fmt.Sprint(map[string]map[string]string{"StringEquals": {"AWS:SourceArn": cfARN}}) {
		t.Errorf("Condition %v, want StringEquals AWS:SourceArn = %s", st.Condition, cfARN)
	}
	if id, err := setup.DistributionID(cfARN); err != nil || id != "EDFDVBD6EXAMPLE" {
		t.Errorf("DistributionID = %q, %v", id, err)
	}
}

// fakeBucket is an in-memory Bucket for what the embedded gateway cannot
// show: AWS refusals, lifecycle rules and a bucket policy with a service
// principal.
type fakeBucket struct {
	cors      []s3store.CORSRule
	lifecycle []s3store.LifecycleRule
	pab       s3store.PublicAccessBlock
	ownership string
	policy    string
	topics    []s3store.TopicNotification
	denied    map[string]bool // S3 calls answered AccessDenied
	writes    []string
}

func accessDenied() error {
	return fmt.Errorf("operation error S3: %w", &smithy.GenericAPIError{Code: "AccessDenied", Message: "Access Denied"})
}

func (f *fakeBucket) call(op string) error {
	if f.denied[op] {
		return accessDenied()
	}
	if strings.HasPrefix(op, "Put") || op == "SetCORS" {
		f.writes = append(f.writes, op)
	}
	return nil
}

func (f *fakeBucket) Bucket() string                     { return "fake-bucket" }
func (f *fakeBucket) Ping(context.Context) error         { return f.call("HeadBucket") }
func (f *fakeBucket) EnsureBucket(context.Context) error { return errors.New("not used") }
func (f *fakeBucket) GetCORS(context.Context) ([]s3store.CORSRule, error) {
	return f.cors, f.call("GetBucketCors")
}
func (f *fakeBucket) SetCORS(_ context.Context, r []s3store.CORSRule) error {
	if err := f.call("PutBucketCors"); err != nil {
		return err
	}
	f.cors = r
	return nil
}
func (f *fakeBucket) GetLifecycle(context.Context) ([]s3store.LifecycleRule, error) {
	return f.lifecycle, f.call("GetBucketLifecycleConfiguration")
}
func (f *fakeBucket) PutLifecycleRule(_ context.Context, r s3store.LifecycleRule) error {
	if err := f.call("PutBucketLifecycleConfiguration"); err != nil {
		return err
	}
	f.lifecycle = append(f.lifecycle, r)
	return nil
}
func (f *fakeBucket) GetPublicAccessBlock(context.Context) (s3store.PublicAccessBlock, error) {
	return f.pab, f.call("GetPublicAccessBlock")
}
func (f *fakeBucket) GetObjectOwnership(context.Context) (string, error) {
	return f.ownership, f.call("GetBucketOwnershipControls")
}
func (f *fakeBucket) GetBucketPolicy(context.Context) (string, error) {
	return f.policy, f.call("GetBucketPolicy")
}
func (f *fakeBucket) GetTopicNotifications(context.Context) ([]s3store.TopicNotification, error) {
	return f.topics, f.call("GetBucketNotificationConfiguration")
}
func (f *fakeBucket) PutTopicNotification(_ context.Context, n s3store.TopicNotification) error {
	if err := f.call("PutBucketNotificationConfiguration"); err != nil {
		return err
	}
	f.topics = append(f.topics, n)
	return nil
}
func (f *fakeBucket) PutBucketPolicy(_ context.Context, p string) error {
	if err := f.call("PutBucketPolicy"); err != nil {
		return err
	}
	f.policy = p
	return nil
}

// awsLike is a bucket as today's AWS creates it: Block Public Access on,
// ACLs off, and one policy statement of someone else's.
func awsLike() *fakeBucket {
	return &fakeBucket{
		pab:       s3store.PublicAccessBlock{Configured: true, BlockPublicACLs: true, IgnorePublicACLs: true, BlockPublicPolicy: true, RestrictPublicBuckets: true},
		ownership: "BucketOwnerEnforced",
		policy:    `{"Version":"2012-10-17","Statement":[{"Sid":"DenyInsecure","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::fake-bucket/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`,
		lifecycle: []s3store.LifecycleRule{{ID: "archive-originals", Prefix: "originals/", Enabled: true, ExpireDays: 3650}},
	}
}

func TestSetupOnAWSLikeBucket(t *testing.T) {
	b := awsLike()
	opts := setup.Options{AppURL: appURL, Region: "us-east-1", CloudFrontARN: cfARN, ApplyBucketPolicy: true}
	r, _ := runSetup(t, b, opts)
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]setup.Status{
		setup.StepCORS: setup.Updated, setup.StepLifecycle: setup.Updated, setup.StepPublicAccess: setup.OK,
		setup.StepOwnership: setup.OK, setup.StepBucketPolicy: setup.Updated,
	} {
		if got := r.Step(name).Status; got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	want := setup.DesiredLifecycle()
	if len(b.lifecycle) != 2 || b.lifecycle[1] != want || want.Prefix != "incoming/" || want.ExpireDays != 1 || want.AbortMultipartDays != 1 {
		t.Errorf("lifecycle rules %+v, want the existing one plus %+v", b.lifecycle, want)
	}
	sts := parsePolicy(t, b.policy)
	if len(sts) != 2 || sts[0].Sid != "DenyInsecure" || sts[1].Sid != setup.CloudFrontStatementID {
		t.Errorf("bucket policy after setup:\n%s\nwant the old statement kept and the CloudFront one added", b.policy)
	}

	writes := len(b.writes)
	r, out := runSetup(t, b, opts)
	if len(b.writes) != writes || r.Count(setup.Updated) != 0 {
		t.Errorf("second run wrote %v, want nothing:\n%s", b.writes[writes:], out)
	}
	for _, name := range []string{setup.StepCORS, setup.StepLifecycle, setup.StepBucketPolicy} {
		if got := r.Step(name).Status; got != setup.UpToDate {
			t.Errorf("second run: %s %q, want %q", name, got, setup.UpToDate)
		}
	}
}

func TestSetupWarnsWhenBucketCouldBePublic(t *testing.T) {
	b := awsLike()
	b.pab = s3store.PublicAccessBlock{Configured: true, BlockPublicACLs: true, IgnorePublicACLs: true}
	b.ownership = "ObjectWriter"
	r, out := runSetup(t, b, setup.Options{AppURL: appURL, Region: "us-east-1"})
	st := r.Step(setup.StepPublicAccess)
	if st.Status != setup.Warning || !strings.Contains(st.Detail, "BlockPublicPolicy, RestrictPublicBuckets") ||
		!strings.Contains(st.Detail, "put-public-access-block --bucket fake-bucket") {
		t.Errorf("Block Public Access partly off: %q %q, want a warning naming what is off and the fix", st.Status, st.Detail)
	}
	if st := r.Step(setup.StepOwnership); st.Status != setup.Warning || !strings.Contains(st.Detail, "BucketOwnerEnforced") {
		t.Errorf("ACLs enabled: %q %q, want a warning", st.Status, st.Detail)
	}
	if !strings.Contains(out, "2 WARNING") {
		t.Errorf("summary does not count the warnings")
	}
	b.pab = s3store.PublicAccessBlock{}
	r, _ = runSetup(t, b, setup.Options{AppURL: appURL, Region: "us-east-1"})
	if st := r.Step(setup.StepPublicAccess); st.Status != setup.Warning || !strings.Contains(st.Detail, "not configured") {
		t.Errorf("no Block Public Access: %q %q, want a warning", st.Status, st.Detail)
	}
}

func TestSetupNamesMissingPermission(t *testing.T) {
	for _, tt := range []struct {
		denied, step, want string
	}{
		{"PutBucketCors", setup.StepCORS, "need s3:PutBucketCORS on arn:aws:s3:::fake-bucket"},
		{"GetBucketCors", setup.StepCORS, "need s3:GetBucketCORS"},
		{"PutBucketLifecycleConfiguration", setup.StepLifecycle, "need s3:PutLifecycleConfiguration"},
		{"GetPublicAccessBlock", setup.StepPublicAccess, "need s3:GetBucketPublicAccessBlock"},
		{"GetBucketOwnershipControls", setup.StepOwnership, "need s3:GetBucketOwnershipControls"},
		{"PutBucketPolicy", setup.StepBucketPolicy, "need s3:PutBucketPolicy"},
		{"HeadBucket", setup.StepBucket, "need s3:ListBucket"},
	} {
		t.Run(tt.denied, func(t *testing.T) {
			b := awsLike()
			b.denied = map[string]bool{tt.denied: true}
			r, out := runSetup(t, b, setup.Options{AppURL: appURL, Region: "us-east-1", CloudFrontARN: cfARN, ApplyBucketPolicy: true})
			st := r.Step(tt.step)
			if st.Status != setup.Failed || !strings.Contains(st.Detail, "AccessDenied") || !strings.Contains(st.Detail, tt.want) {
				t.Errorf("%s: %q %q, want Failed with AccessDenied and %q", tt.step, st.Status, st.Detail, tt.want)
			}
			if r.Err() == nil || !strings.Contains(out, "1 FAILED") {
				t.Errorf("the failure is not in Err or the summary")
			}
			// The other steps still ran.
			if len(r.Steps) != 6 {
				t.Errorf("%d steps reported, want all 6", len(r.Steps))
			}
		})
	}
}

// The pages that run embed.js (ALLOWED_ORIGINS) POST to the bucket too.
func TestSetupAllowsEmbedOrigins(t *testing.T) {
	b := awsLike()
	opts := setup.Options{AppURL: appURL, AllowedOrigins: []string{"https://shop.example", "http://localhost:3000"}, Region: "us-east-1"}
	r, _ := runSetup(t, b, opts)
	if st := r.Step(setup.StepCORS); st.Status != setup.Updated {
		t.Fatalf("CORS: %q %q, want updated", st.Status, st.Detail)
	}
	if len(b.cors) != 1 || len(b.cors[0].AllowedOrigins) != 3 || b.cors[0].AllowedOrigins[1] != "https://shop.example" {
		t.Errorf("bucket CORS %+v, want the app's origin and both host origins", b.cors)
	}
	if r, _ = runSetup(t, b, opts); r.Step(setup.StepCORS).Status != setup.UpToDate {
		t.Errorf("second run: %q, want up to date", r.Step(setup.StepCORS).Status)
	}
	opts.AllowedOrigins = nil
	if r, _ = runSetup(t, b, opts); r.Step(setup.StepCORS).Status != setup.Updated || len(b.cors[0].AllowedOrigins) != 1 {
		t.Errorf("an origin removed from ALLOWED_ORIGINS stays allowed by the bucket: %+v", b.cors)
	}
}
