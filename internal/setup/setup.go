// Package setup makes an S3 bucket ready for the app, as `uploader setup`
// does: the CORS rule browsers need to POST uploads from APP_URL, a
// lifecycle rule that expires abandoned files under incoming/, checks that
// the bucket is not public and that ACLs are disabled, and, given a
// CloudFront distribution, the bucket-policy statement letting it read
// variants/. It also builds the IAM and bucket policies to paste.
//
// Every step compares what the bucket has with what it should have and
// writes only when they differ, so running it again changes nothing; with
// DryRun it only reports what it would change.
package setup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"uploader/internal/s3store"
	"uploader/internal/upload"
)

// Bucket is what setup needs of the bucket; *s3store.Store has it.
type Bucket interface {
	Bucket() string
	Ping(ctx context.Context) error
	EnsureBucket(ctx context.Context) error
	GetCORS(ctx context.Context) ([]s3store.CORSRule, error)
	SetCORS(ctx context.Context, rules []s3store.CORSRule) error
	GetLifecycle(ctx context.Context) ([]s3store.LifecycleRule, error)
	PutLifecycleRule(ctx context.Context, rule s3store.LifecycleRule) error
	GetPublicAccessBlock(ctx context.Context) (s3store.PublicAccessBlock, error)
	GetObjectOwnership(ctx context.Context) (string, error)
	GetBucketPolicy(ctx context.Context) (string, error)
	PutBucketPolicy(ctx context.Context, policy string) error
	GetTopicNotifications(ctx context.Context) ([]s3store.TopicNotification, error)
	PutTopicNotification(ctx context.Context, n s3store.TopicNotification) error
}

// Options says what the bucket should allow.
type Options struct {
	AppURL string // APP_URL: the origin allowed to POST uploads
	// AllowedOrigins (ALLOWED_ORIGINS) are host apps whose pages upload
	// through embed.js: the bucket must accept their POSTs too.
	AllowedOrigins []string
	Region         string // S3_REGION: picks the ARN partition
	// CloudFrontARN (CLOUDFRONT_DISTRIBUTION_ARN) is the distribution
	// allowed to read variants/; empty skips the bucket-policy step.
	CloudFrontARN string
	// ApplyBucketPolicy writes the CloudFront statement into the bucket
	// policy (other statements kept); otherwise setup only checks for it.
	ApplyBucketPolicy bool
	// SNSTopicARN (SNS_TOPIC_ARN) is the topic the bucket tells of new
	// objects under incoming/; empty skips the notification step.
	SNSTopicARN string
	DryRun      bool // report, change nothing
}

// Status is the outcome of one step.
type Status string

// The outcomes of a step.
const (
	OK          Status = "ok"           // a check passed
	UpToDate    Status = "up to date"   // nothing to change
	Updated     Status = "updated"      // changed now
	WouldUpdate Status = "would update" // DryRun: would change
	Warning     Status = "WARNING"      // needs a person's attention; not changed by setup
	Unsupported Status = "not supported by this endpoint"
	Failed      Status = "FAILED"
)

// Step is one line of the report.
type Step struct {
	Name   string
	Status Status
	Detail string
	Err    error // set when Failed or Unsupported
}

// Report is what Run did, step by step.
type Report struct {
	Steps []Step
}

// Count returns how many steps ended with status s.
func (r Report) Count(s Status) int {
	n := 0
	for _, st := range r.Steps {
		if st.Status == s {
			n++
		}
	}
	return n
}

// Step returns the step called name, or a zero Step.
func (r Report) Step(name string) Step {
	for _, st := range r.Steps {
		if st.Name == name {
			return st
		}
	}
	return Step{}
}

// Err is non-nil when a step failed.
func (r Report) Err() error {
	var errs []error
	for _, st := range r.Steps {
		if st.Status == Failed {
			errs = append(errs, fmt.Errorf("%s: %s", st.Name, st.Detail))
		}
	}
	return errors.Join(errs...)
}

// Names of the steps, as they appear in the report.
const (
	StepBucket       = "Bucket"
	StepCORS         = "CORS"
	StepLifecycle    = "Lifecycle"
	StepPublicAccess = "Block Public Access"
	StepOwnership    = "Object Ownership"
	StepBucketPolicy = "Bucket policy"
	StepEvents       = "Event notification"
)

// CORSRuleID and LifecycleRuleID name the rules setup owns.
const (
	CORSRuleID      = "uploader-browser-uploads"
	LifecycleRuleID = "uploader-expire-incoming"
	// NotificationID names the bucket notification setup owns.
	NotificationID = "uploader-incoming-created"
)

// DesiredNotification tells topic of every object created under incoming/.
func DesiredNotification(topic string) s3store.TopicNotification {
	return s3store.TopicNotification{ID: NotificationID, TopicARN: topic, Events: []string{"s3:ObjectCreated:*"}, Prefix: upload.IncomingPrefix}
}

// DesiredCORS is the bucket's CORS rule for an app at appURL: POST from
// that origin only (upload.js sends a multipart form with XHR, whose
// upload-progress listener makes browsers ask first), Content-Type as the
// only request header, ETag readable by the page, preflights cached for
// 3000 s. Variants are read through CloudFront, not from the bucket, so no
// GET.
//
// The origins of allowed (ALLOWED_ORIGINS, the pages that run embed.js)
// are allowed beside appURL's.
func DesiredCORS(appURL string, allowed ...string) (s3store.CORSRule, error) {
	origin, err := Origin(appURL)
	if err != nil {
		return s3store.CORSRule{}, err
	}
	origins := []string{origin}
	for _, a := range allowed {
		if !slices.Contains(origins, a) {
			origins = append(origins, a)
		}
	}
	return s3store.CORSRule{
		ID:             CORSRuleID,
		AllowedOrigins: origins,
		AllowedMethods: []string{"POST", "PUT"}, // PUT: the parts of a multipart upload
		AllowedHeaders: []string{"Content-Type"},
		ExposeHeaders:  []string{"ETag"},
		MaxAgeSeconds:  3000,
	}, nil
}

// DesiredLifecycle is the rule that deletes files under incoming/ a day
// after they were written (the worker copies what it keeps; the
// reconciler removes strays sooner, this is the backstop) and aborts
// multipart uploads left unfinished for a day.
func DesiredLifecycle() s3store.LifecycleRule {
	return s3store.LifecycleRule{
		ID: LifecycleRuleID, Prefix: upload.IncomingPrefix, Enabled: true,
		ExpireDays: 1, AbortMultipartDays: 1,
	}
}

// Origin is the scheme://host[:port] of a URL, as browsers send it in
// the Origin header.
func Origin(appURL string) (string, error) {
	u, err := url.Parse(appURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("APP_URL=%q: use the app's public origin, e.g. https://uploads.example.com", appURL)
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

// Run brings the bucket to the desired state, printing a line per step to
// w, then the policies to paste and a summary. Steps continue after a
// failure, so one run shows every missing permission.
func Run(ctx context.Context, b Bucket, opts Options, w io.Writer) Report {
	r := &runner{b: b, opts: opts, w: w, arn: BucketARN(b.Bucket(), opts.Region)}
	if opts.DryRun {
		fmt.Fprintf(w, "Dry run: checking bucket %s; nothing will be changed.\n", b.Bucket())
	} else {
		fmt.Fprintf(w, "Setting up bucket %s.\n", b.Bucket())
	}
	exists := r.bucket(ctx)
	if !exists && opts.DryRun {
		// Nothing to read yet: say what creating it would be followed by.
		r.add(Step{Name: StepCORS, Status: WouldUpdate, Detail: "would allow POST from " + opts.AppURL})
		r.add(Step{Name: StepLifecycle, Status: WouldUpdate, Detail: "would expire incoming/ after 1 day"})
	} else {
		r.cors(ctx)
		r.lifecycle(ctx)
		r.publicAccess(ctx)
		r.ownership(ctx)
		if opts.CloudFrontARN != "" {
			r.bucketPolicy(ctx)
		}
		if opts.SNSTopicARN != "" {
			r.events(ctx)
		}
	}
	r.printPolicies()
	r.summary()
	return r.report
}

type runner struct {
	b      Bucket
	opts   Options
	w      io.Writer
	arn    string
	report Report
}

func (r *runner) add(s Step) {
	r.report.Steps = append(r.report.Steps, s)
	line := fmt.Sprintf("%-20s %s", s.Name+":", s.Status)
	if s.Detail != "" {
		line += " — " + s.Detail
	}
	fmt.Fprintln(r.w, line)
}

// fail records a failed (or unsupported) call: the AWS error code and, for
// a refusal, the permission the credentials lack.
func (r *runner) fail(name, action string, err error) {
	if unsupported(err) {
		r.add(Step{Name: name, Status: Unsupported, Err: err,
			Detail: fmt.Sprintf("%s answered %s, so this step was skipped (on AWS it runs)", action, errorCode(err))})
		return
	}
	r.add(Step{Name: name, Status: Failed, Err: err, Detail: explain(action, r.arn, err)})
}

func (r *runner) bucket(ctx context.Context) bool {
	err := r.b.Ping(ctx)
	switch {
	case err == nil:
		r.add(Step{Name: StepBucket, Status: OK, Detail: "exists and is reachable"})
		return true
	case upload.ErrorCode(err) != upload.ENOTFOUND:
		r.fail(StepBucket, "HeadBucket", err)
		return true // maybe only HeadBucket is refused: try the rest
	case r.opts.DryRun:
		r.add(Step{Name: StepBucket, Status: WouldUpdate, Detail: "does not exist; would create it (AWS turns Block Public Access on and ACLs off for new buckets)"})
		return false
	}
	if err := r.b.EnsureBucket(ctx); err != nil {
		r.fail(StepBucket, "CreateBucket", err)
		return false
	}
	r.add(Step{Name: StepBucket, Status: Updated, Detail: "created"})
	return true
}

func (r *runner) cors(ctx context.Context) {
	want, err := DesiredCORS(r.opts.AppURL, r.opts.AllowedOrigins...)
	if err != nil {
		r.add(Step{Name: StepCORS, Status: Failed, Err: err, Detail: err.Error()})
		return
	}
	have, err := r.b.GetCORS(ctx)
	if err != nil {
		r.fail(StepCORS, "GetBucketCors", err)
		return
	}
	if len(have) == 1 && sameCORS(have[0], want) {
		r.add(Step{Name: StepCORS, Status: UpToDate, Detail: "POST and PUT (parts) allowed from " + strings.Join(want.AllowedOrigins, ", ") + " only"})
		return
	}
	detail := "POST and PUT (parts) from " + strings.Join(want.AllowedOrigins, ", ") + " only, ETag exposed"
	if len(have) > 0 {
		detail += fmt.Sprintf(" (replacing %d rule(s): %s)", len(have), describeCORS(have))
	}
	if r.opts.DryRun {
		r.add(Step{Name: StepCORS, Status: WouldUpdate, Detail: "would allow " + detail})
		return
	}
	if err := r.b.SetCORS(ctx, []s3store.CORSRule{want}); err != nil {
		r.fail(StepCORS, "PutBucketCors", err)
		return
	}
	r.add(Step{Name: StepCORS, Status: Updated, Detail: detail})
}

func (r *runner) lifecycle(ctx context.Context) {
	want := DesiredLifecycle()
	have, err := r.b.GetLifecycle(ctx)
	if err != nil {
		r.fail(StepLifecycle, "GetBucketLifecycleConfiguration", err)
		return
	}
	detail := "incoming/ expires after 1 day; unfinished multipart uploads aborted after 1 day"
	if slices.ContainsFunc(have, func(h s3store.LifecycleRule) bool { return sameLifecycle(h, want) }) {
		r.add(Step{Name: StepLifecycle, Status: UpToDate, Detail: detail})
		return
	}
	if r.opts.DryRun {
		r.add(Step{Name: StepLifecycle, Status: WouldUpdate, Detail: "would set: " + detail})
		return
	}
	if err := r.b.PutLifecycleRule(ctx, want); err != nil {
		r.fail(StepLifecycle, "PutBucketLifecycleConfiguration", err)
		return
	}
	// Some endpoints store the rule without parts of it (MinIO drops
	// AbortIncompleteMultipartUpload): say what was kept, not what was sent.
	kept, err := r.b.GetLifecycle(ctx)
	if err != nil {
		r.fail(StepLifecycle, "GetBucketLifecycleConfiguration", err)
		return
	}
	i := slices.IndexFunc(kept, func(h s3store.LifecycleRule) bool { return h.ID == want.ID })
	switch {
	case i >= 0 && sameLifecycle(kept[i], want):
		r.add(Step{Name: StepLifecycle, Status: Updated, Detail: detail + fmt.Sprintf(" (rule %s; other rules kept)", want.ID)})
	case i >= 0:
		r.add(Step{Name: StepLifecycle, Status: Warning, Detail: fmt.Sprintf("the endpoint kept rule %s as: %s. "+
			"It did not keep the rest; the worker's reconciler aborts the multipart uploads of expired uploads itself",
			want.ID, describeLifecycle(kept[i]))})
	default:
		r.add(Step{Name: StepLifecycle, Status: Warning, Detail: fmt.Sprintf("the endpoint accepted rule %s but does not list it; "+
			"incoming/ is not expired by the bucket, only by the reconciler", want.ID)})
	}
}

// describeLifecycle says what a stored rule does, in the report's words.
func describeLifecycle(h s3store.LifecycleRule) string {
	var parts []string
	if !h.Enabled {
		parts = append(parts, "disabled")
	}
	if h.ExpireDays > 0 {
		parts = append(parts, fmt.Sprintf("%s expires after %d day(s)", or(h.Prefix, "every key"), h.ExpireDays))
	}
	if h.AbortMultipartDays > 0 {
		parts = append(parts, fmt.Sprintf("unfinished multipart uploads aborted after %d day(s)", h.AbortMultipartDays))
	} else {
		parts = append(parts, "no AbortIncompleteMultipartUpload")
	}
	return strings.Join(parts, "; ")
}

func (r *runner) publicAccess(ctx context.Context) {
	pab, err := r.b.GetPublicAccessBlock(ctx)
	if err != nil {
		r.fail(StepPublicAccess, "GetPublicAccessBlock", err)
		return
	}
	if pab.AllOn() {
		r.add(Step{Name: StepPublicAccess, Status: OK, Detail: "all four settings on; originals cannot be made public"})
		return
	}
	var off []string
	for name, on := range map[string]bool{
		"BlockPublicAcls": pab.BlockPublicACLs, "IgnorePublicAcls": pab.IgnorePublicACLs,
		"BlockPublicPolicy": pab.BlockPublicPolicy, "RestrictPublicBuckets": pab.RestrictPublicBuckets,
	} {
		if !on {
			off = append(off, name)
		}
	}
	slices.Sort(off)
	what := "is not configured on this bucket"
	if pab.Configured {
		what = "is off in part: " + strings.Join(off, ", ")
	}
	r.add(Step{Name: StepPublicAccess, Status: Warning, Detail: "Block Public Access " + what +
		". Originals must never be public; setup does not change this for you. Turn it on with: " +
		"aws s3api put-public-access-block --bucket " + r.b.Bucket() +
		" --public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true"})
}

func (r *runner) ownership(ctx context.Context) {
	own, err := r.b.GetObjectOwnership(ctx)
	if err != nil {
		r.fail(StepOwnership, "GetBucketOwnershipControls", err)
		return
	}
	if own == "BucketOwnerEnforced" {
		r.add(Step{Name: StepOwnership, Status: OK, Detail: "BucketOwnerEnforced: ACLs are disabled"})
		return
	}
	r.add(Step{Name: StepOwnership, Status: Warning, Detail: fmt.Sprintf("%q: ACLs are enabled, so an object could be made public by an ACL. "+
		"Disable them with: aws s3api put-bucket-ownership-controls --bucket %s --ownership-controls 'Rules=[{ObjectOwnership=BucketOwnerEnforced}]'",
		or(own, "not set"), r.b.Bucket())})
}

func (r *runner) bucketPolicy(ctx context.Context) {
	st, err := CloudFrontStatement(r.b.Bucket(), r.opts.Region, r.opts.CloudFrontARN)
	if err != nil {
		r.add(Step{Name: StepBucketPolicy, Status: Failed, Err: err, Detail: err.Error()})
		return
	}
	doc, err := r.b.GetBucketPolicy(ctx)
	if err != nil {
		r.fail(StepBucketPolicy, "GetBucketPolicy", err)
		return
	}
	merged, changed, err := mergeStatement(doc, st)
	if err != nil {
		r.add(Step{Name: StepBucketPolicy, Status: Failed, Err: err, Detail: err.Error()})
		return
	}
	what := "CloudFront distribution may read variants/* only"
	switch {
	case !changed:
		r.add(Step{Name: StepBucketPolicy, Status: UpToDate, Detail: what})
	case !r.opts.ApplyBucketPolicy:
		r.add(Step{Name: StepBucketPolicy, Status: Warning, Detail: "statement " + CloudFrontStatementID +
			" is missing or differs, so CloudFront cannot read variants. Run `uploader setup --apply-bucket-policy`, " +
			"or paste the bucket policy printed below in the bucket's Permissions tab"})
	case r.opts.DryRun:
		r.add(Step{Name: StepBucketPolicy, Status: WouldUpdate, Detail: "would add statement " + CloudFrontStatementID + ": " + what + " (other statements kept)"})
	default:
		if err := r.b.PutBucketPolicy(ctx, merged); err != nil {
			r.fail(StepBucketPolicy, "PutBucketPolicy", err)
			return
		}
		r.add(Step{Name: StepBucketPolicy, Status: Updated, Detail: what + " (other statements kept)"})
	}
}

func (r *runner) events(ctx context.Context) {
	want := DesiredNotification(r.opts.SNSTopicARN)
	detail := "objects created under incoming/ are announced to " + want.TopicARN
	have, err := r.b.GetTopicNotifications(ctx)
	if err != nil {
		r.fail(StepEvents, "GetBucketNotificationConfiguration", err)
		return
	}
	if slices.ContainsFunc(have, func(n s3store.TopicNotification) bool {
		return n.ID == want.ID && n.TopicARN == want.TopicARN && n.Prefix == want.Prefix && slices.Equal(n.Events, want.Events)
	}) {
		r.add(Step{Name: StepEvents, Status: UpToDate, Detail: detail})
		return
	}
	if r.opts.DryRun {
		r.add(Step{Name: StepEvents, Status: WouldUpdate, Detail: "would set: " + detail})
		return
	}
	if err := r.b.PutTopicNotification(ctx, want); err != nil {
		// S3 checks that it may publish: a refusal here usually means the
		// topic policy printed below is not attached yet.
		r.fail(StepEvents, "PutBucketNotificationConfiguration", err)
		return
	}
	r.add(Step{Name: StepEvents, Status: Updated, Detail: detail + " (other notifications kept)"})
}

// SNSTopicPolicy is the topic's access policy that lets the bucket publish
// its events, and nobody else.
func SNSTopicPolicy(bucket, region, topic string) Policy {
	return Policy{Version: policyVersion, Statement: []Statement{{
		Sid:       "UploaderBucketEvents",
		Effect:    "Allow",
		Principal: map[string]string{"Service": "s3.amazonaws.com"},
		Action:    []string{"SNS:Publish"},
		Resource:  []string{topic},
		Condition: map[string]map[string]string{"ArnLike": {"aws:SourceArn": BucketARN(bucket, region)}},
	}}}
}

func (r *runner) printPolicies() {
	bucket := r.b.Bucket()
	p, err := UploadUserPolicy(bucket, r.opts.Region, r.opts.CloudFrontARN)
	if err != nil {
		// Only a bad ARN gets here; say so and print the S3 part.
		fmt.Fprintf(r.w, "\n%v\n", err)
		p, _ = UploadUserPolicy(bucket, r.opts.Region, "")
	}
	fmt.Fprintf(r.w, "\nIAM policy for the upload user (the keys in AWS_ACCESS_KEY_ID on the dynos); attach it as an inline policy:\n%s\n", p.JSON())
	if t := r.opts.SNSTopicARN; t != "" {
		fmt.Fprintf(r.w, "\nAccess policy of the SNS topic %s (lets the bucket publish its events); then subscribe the app:\n"+
			"  aws sns subscribe --topic-arn %s --protocol https --notification-endpoint %s/api/s3-events\n%s\n",
			t, t, strings.TrimRight(r.opts.AppURL, "/"), SNSTopicPolicy(bucket, r.opts.Region, t).JSON())
	}
	if r.opts.CloudFrontARN == "" {
		fmt.Fprintln(r.w, "\nNo CLOUDFRONT_DISTRIBUTION_ARN: set it to print the bucket policy that lets CloudFront read variants/.")
		return
	}
	bp, err := CloudFrontBucketPolicy(bucket, r.opts.Region, r.opts.CloudFrontARN)
	if err != nil {
		return
	}
	fmt.Fprintf(r.w, "\nBucket policy letting CloudFront (Origin Access Control) read variants/* only:\n%s\n", bp.JSON())
}

func (r *runner) summary() {
	var parts []string
	for _, s := range []Status{Updated, WouldUpdate, UpToDate, OK, Warning, Unsupported, Failed} {
		if n := r.report.Count(s); n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	line := "\nSummary: " + strings.Join(parts, ", ")
	if r.opts.DryRun {
		line += " (dry run: nothing was changed)"
	}
	fmt.Fprintln(r.w, line)
}

// permissions names the IAM action each S3 call needs.
var permissions = map[string]string{
	"HeadBucket":                      "s3:ListBucket",
	"CreateBucket":                    "s3:CreateBucket",
	"GetBucketCors":                   "s3:GetBucketCORS",
	"PutBucketCors":                   "s3:PutBucketCORS",
	"GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
	"PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
	"GetPublicAccessBlock":            "s3:GetBucketPublicAccessBlock",
	"GetBucketOwnershipControls":      "s3:GetBucketOwnershipControls",
	"GetBucketPolicy":                 "s3:GetBucketPolicy",
	"PutBucketPolicy":                 "s3:PutBucketPolicy",
}

// Permission is the IAM action an S3 API call needs, e.g.
// Permission("PutBucketCors") == "s3:PutBucketCORS".
func Permission(action string) string { return permissions[action] }

// explain says why a call failed: the AWS error code and, when AWS
// refused, the permission the credentials lack.
func explain(action, bucketARN string, err error) string {
	code := errorCode(err)
	switch code {
	case "AccessDenied", "Forbidden", "AllAccessDisabled":
		return fmt.Sprintf("%s: %s refused; the credentials need %s on %s (run setup with an administrator's keys, not the upload user's)",
			code, action, Permission(action), bucketARN)
	case "":
		return fmt.Sprintf("%s: %v", action, err)
	}
	var api smithy.APIError
	msg := ""
	if errors.As(err, &api) && api.ErrorMessage() != "" {
		msg = ": " + api.ErrorMessage()
	}
	return fmt.Sprintf("%s: %s%s", code, action, msg)
}

// errorCode is the AWS error code in err, e.g. "AccessDenied", or "".
func errorCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

// unsupported reports whether the endpoint said it does not implement the
// call (S3-compatible servers, not AWS).
func unsupported(err error) bool {
	if c := errorCode(err); c == "NotImplemented" || c == "NotSupported" {
		return true
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == 501
}

func sameCORS(a, b s3store.CORSRule) bool {
	return sameSet(a.AllowedOrigins, b.AllowedOrigins, false) &&
		sameSet(a.AllowedMethods, b.AllowedMethods, true) &&
		sameSet(a.AllowedHeaders, b.AllowedHeaders, true) &&
		sameSet(a.ExposeHeaders, b.ExposeHeaders, true) &&
		a.MaxAgeSeconds == b.MaxAgeSeconds
}

func sameLifecycle(a, b s3store.LifecycleRule) bool {
	return a.Enabled && a.Prefix == b.Prefix && a.ExpireDays == b.ExpireDays && a.AbortMultipartDays == b.AbortMultipartDays
}

// sameSet compares two lists as sets; fold ignores case (header names and
// methods).
func sameSet(a, b []string, fold bool) bool {
	norm := func(l []string) []string {
		out := make([]string, 0, len(l))
		for _, s := range l {
			if fold {
				s = strings.ToLower(s)
			}
			out = append(out, s)
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	return slices.Equal(norm(a), norm(b))
}

func describeCORS(rules []s3store.CORSRule) string {
	var parts []string
	for _, r := range rules {
		parts = append(parts, strings.Join(r.AllowedMethods, "+")+" from "+strings.Join(r.AllowedOrigins, ", "))
	}
	return strings.Join(parts, "; ")
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
