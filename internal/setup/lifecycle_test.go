package setup_test

import (
	"context"
	"strings"
	"testing"

	"uploader/internal/s3store"
	"uploader/internal/setup"
)

// keptLifecycle is a FAKE lifecycle store in front of the real gateway
// (versitygw v1.8.0 answers NotImplemented to lifecycle calls). It keeps
// rules as MinIO is reported to, without AbortIncompleteMultipartUpload
// when dropAbort is set, and as AWS does otherwise. Everything else goes
// to the embedded gateway.
type keptLifecycle struct {
	*s3store.Store
	dropAbort bool
	rules     []s3store.LifecycleRule
	puts      int
}

func (k *keptLifecycle) GetLifecycle(context.Context) ([]s3store.LifecycleRule, error) {
	return k.rules, nil
}

func (k *keptLifecycle) PutLifecycleRule(_ context.Context, r s3store.LifecycleRule) error {
	k.puts++
	if k.dropAbort {
		r.AbortMultipartDays = 0
	}
	for i := range k.rules {
		if k.rules[i].ID == r.ID {
			k.rules[i] = r
			return nil
		}
	}
	k.rules = append(k.rules, r)
	return nil
}

// TestSetupReportsWhatTheLifecycleKept: on an endpoint that drops
// AbortIncompleteMultipartUpload, setup says so on every run instead of
// reporting "updated" forever; on one that keeps it, the second run is up
// to date.
func TestSetupReportsWhatTheLifecycleKept(t *testing.T) {
	opts := setup.Options{AppURL: appURL, Region: gw.Region}

	minio := &keptLifecycle{Store: newStore(t, "setup-lifecycle-drops"), dropAbort: true}
	for run := 1; run <= 2; run++ {
		r, out := runSetup(t, minio, opts)
		st := r.Step(setup.StepLifecycle)
		if st.Status != setup.Warning || !strings.Contains(st.Detail, "incoming/ expires after 1 day(s)") ||
			!strings.Contains(st.Detail, "no AbortIncompleteMultipartUpload") || !strings.Contains(st.Detail, "reconciler") {
			t.Errorf("run %d on an endpoint that drops the abort: %q %q; want a warning saying what it kept", run, st.Status, st.Detail)
		}
		if strings.Contains(out, "Lifecycle:           updated") {
			t.Errorf("run %d reports the lifecycle updated", run)
		}
	}

	aws := &keptLifecycle{Store: newStore(t, "setup-lifecycle-keeps")}
	if r, _ := runSetup(t, aws, opts); r.Step(setup.StepLifecycle).Status != setup.Updated {
		t.Errorf("first run: %q, want updated", r.Step(setup.StepLifecycle).Status)
	}
	if r, _ := runSetup(t, aws, opts); r.Step(setup.StepLifecycle).Status != setup.UpToDate || aws.puts != 1 {
		t.Errorf("second run: %q after %d writes, want up to date after 1", r.Step(setup.StepLifecycle).Status, aws.puts)
	}
}

// TestSetupEventNotification: given SNS_TOPIC_ARN, setup tells the topic
// of new objects under incoming/ and prints the topic's access policy. The
// in-memory bucket stands in for AWS; the embedded gateway answers
// NotImplemented, reported as such.
func TestSetupEventNotification(t *testing.T) {
	const topic = "arn:aws:sns:us-east-1:111122223333:uploads-events"
	opts := setup.Options{AppURL: appURL, Region: "us-east-1", SNSTopicARN: topic}
	b := awsLike()
	r, out := runSetup(t, b, opts)
	if st := r.Step(setup.StepEvents); st.Status != setup.Updated {
		t.Errorf("first run: %q %q, want updated", st.Status, st.Detail)
	}
	if len(b.topics) != 1 || b.topics[0].TopicARN != topic || b.topics[0].Prefix != "incoming/" || b.topics[0].Events[0] != "s3:ObjectCreated:*" {
		t.Errorf("notification stored: %+v", b.topics)
	}
	for _, want := range []string{`"Service": "s3.amazonaws.com"`, `"SNS:Publish"`, `"aws:SourceArn": "arn:aws:s3:::fake-bucket"`, "--notification-endpoint " + appURL + "/api/s3-events"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s", want)
		}
	}
	if r, _ := runSetup(t, b, opts); r.Step(setup.StepEvents).Status != setup.UpToDate || len(b.topics) != 1 {
		t.Errorf("second run: %q with %d notifications, want up to date with 1", r.Step(setup.StepEvents).Status, len(b.topics))
	}
	if r, _ := runSetup(t, awsLike(), setup.Options{AppURL: appURL, Region: "us-east-1"}); r.Step(setup.StepEvents).Status != "" {
		t.Errorf("without SNS_TOPIC_ARN the step ran: %q", r.Step(setup.StepEvents).Status)
	}
	gwOpts := opts
	gwOpts.Region = gw.Region
	if r, _ := runSetup(t, newStore(t, "setup-events"), gwOpts); r.Step(setup.StepEvents).Status != setup.Unsupported {
		t.Errorf("on versitygw: %q, want %q", r.Step(setup.StepEvents).Status, setup.Unsupported)
	}
}
