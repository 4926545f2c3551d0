package web

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"uploader/internal/upload"
)

// fakeSNS stands in for Amazon SNS, which cannot run here: a FAKE signing
// certificate made at test time, and the messages SNS would sign with it.
// The one thing it cannot show is that fetchCert's chain check accepts
// Amazon's real certificate.
type fakeSNS struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
}

func newFakeSNS(t *testing.T) *fakeSNS {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "sns.amazonaws.com (FAKE, made by sns_test.go)"},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &fakeSNS{key: key, cert: cert}
}

func (f *fakeSNS) sign(t *testing.T, m *snsEnvelope) {
	t.Helper()
	msg, err := m.stringToSign()
	if err != nil {
		t.Fatal(err)
	}
	var sig []byte
	if m.SignatureVersion == "1" {
		d := sha1.Sum([]byte(msg))
		sig, err = rsa.SignPKCS1v15(rand.Reader, f.key, crypto.SHA1, d[:])
	} else {
		d := sha256.Sum256([]byte(msg))
		sig, err = rsa.SignPKCS1v15(rand.Reader, f.key, crypto.SHA256, d[:])
	}
	if err != nil {
		t.Fatal(err)
	}
	m.Signature = base64.StdEncoding.EncodeToString(sig)
}

type recordTransport struct{ urls []string }

func (r *recordTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r.urls = append(r.urls, req.URL.String())
	return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("<ConfirmSubscriptionResponse/>")), Header: http.Header{}}, nil
}

func TestSNSMessages(t *testing.T) {
	const topic = "arn:aws:sns:us-east-1:111122223333:uploads-events"
	fake := newFakeSNS(t)
	rt := &recordTransport{}
	s := &Server{cfg: Config{SNSTopicARN: topic}, log: slog.New(slog.NewTextHandler(io.Discard, nil)), now: time.Now, sns: newSNSVerifier()}
	s.sns.client = &http.Client{Transport: rt}
	s.sns.cert = func(ctx context.Context, u string) (*x509.Certificate, error) { return fake.cert, nil }

	event := `{"Records":[{"eventName":"ObjectCreated:Post","s3":{"bucket":{"name":"b"},"object":{"key":"incoming/x","size":1}}}]}`
	notification := func(version string) *snsEnvelope {
		return &snsEnvelope{Type: "Notification", MessageID: "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324", TopicArn: topic,
			Subject: "Amazon S3 Notification", Message: event, Timestamp: time.Now().UTC().Format(time.RFC3339Nano),
			SignatureVersion: version, SigningCertURL: "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem"}
	}
	body := func(m *snsEnvelope) []byte { b, _ := json.Marshal(m); return b }

	for _, v := range []string{"1", "2"} {
		m := notification(v)
		fake.sign(t, m)
		got, err := s.snsMessage(context.Background(), "Notification", body(m))
		if err != nil || string(got) != event {
			t.Errorf("signature version %s: %q %v; want the S3 event", v, got, err)
		}
	}

	refused := map[string]func(m *snsEnvelope){
		"message changed after signing": func(m *snsEnvelope) { m.Message = strings.Replace(m.Message, "incoming/x", "incoming/y", 1) },
		"other topic":                   func(m *snsEnvelope) { m.TopicArn = "arn:aws:sns:us-east-1:999999999999:evil" },
		"certificate off AWS":           func(m *snsEnvelope) { m.SigningCertURL = "https://evil.example/sns.us-east-1.amazonaws.com.pem" },
		"certificate over http":         func(m *snsEnvelope) { m.SigningCertURL = "http://sns.us-east-1.amazonaws.com/x.pem" },
		"look-alike host":               func(m *snsEnvelope) { m.SigningCertURL = "https://sns.us-east-1.amazonaws.com.evil.example/x.pem" },
		"unknown signature version":     func(m *snsEnvelope) { m.SignatureVersion = "3" },
	}
	for name, edit := range refused {
		m := notification("2")
		fake.sign(t, m)
		edit(m)
		if _, err := s.snsMessage(context.Background(), "Notification", body(m)); upload.ErrorCode(err) != upload.EFORBIDDEN {
			t.Errorf("%s: %v, want forbidden", name, err)
		}
	}
	old := notification("2")
	old.Timestamp = time.Now().Add(-2 * time.Hour).UTC().Format(time.RFC3339)
	fake.sign(t, old)
	if _, err := s.snsMessage(context.Background(), "Notification", body(old)); upload.ErrorCode(err) != upload.EFORBIDDEN {
		t.Errorf("a two-hour-old message: %v, want forbidden (a replay)", err)
	}
	other := newFakeSNS(t)
	m := notification("1")
	other.sign(t, m)
	if _, err := s.snsMessage(context.Background(), "Notification", body(m)); upload.ErrorCode(err) != upload.EFORBIDDEN {
		t.Errorf("signed by another key: %v, want forbidden", err)
	}

	sub := &snsEnvelope{Type: "SubscriptionConfirmation", MessageID: "1", Token: "tok", TopicArn: topic,
		Message: "You have chosen to subscribe", SubscribeURL: "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=tok",
		Timestamp: time.Now().UTC().Format(time.RFC3339), SignatureVersion: "1", SigningCertURL: notification("1").SigningCertURL}
	fake.sign(t, sub)
	if got, err := s.snsMessage(context.Background(), "SubscriptionConfirmation", body(sub)); err != nil || got != nil {
		t.Errorf("subscription confirmation: %q %v", got, err)
	}
	if len(rt.urls) != 1 || rt.urls[0] != sub.SubscribeURL {
		t.Errorf("visited %v, want the SubscribeURL once", rt.urls)
	}
	evil := *sub
	evil.SubscribeURL = "https://evil.example/confirm"
	fake.sign(t, &evil)
	if _, err := s.snsMessage(context.Background(), "SubscriptionConfirmation", body(&evil)); err == nil || len(rt.urls) != 1 {
		t.Errorf("a SubscribeURL off AWS: %v, visited %v; want refused, not visited", err, rt.urls)
	}

	s.cfg.SNSTopicARN = ""
	m = notification("2")
	fake.sign(t, m)
	if _, err := s.snsMessage(context.Background(), "Notification", body(m)); upload.ErrorCode(err) != upload.EFORBIDDEN {
		t.Errorf("without SNS_TOPIC_ARN: %v, want forbidden", err)
	}
}
