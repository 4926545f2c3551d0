package web

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"uploader/internal/upload"
)

// snsMessageAge is how old a signed SNS message may be. SNS retries an
// HTTPS delivery for about an hour by default; an older message is a replay.
const snsMessageAge = time.Hour

// maxSNSCerts bounds the certificate cache.
const maxSNSCerts = 16

// snsHost is the only kind of host SNS signing certificates and
// subscription URLs come from.
var snsHost = regexp.MustCompile(`^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$`)

// snsVerifier checks Amazon SNS message signatures. Certificates are
// fetched once per URL and kept.
type snsVerifier struct {
	client *http.Client
	// cert returns the signing certificate at a checked URL; tests put a
	// fake AWS certificate here.
	cert func(ctx context.Context, certURL string) (*x509.Certificate, error)

	mu    sync.Mutex
	certs map[string]*x509.Certificate
}

func newSNSVerifier() *snsVerifier {
	v := &snsVerifier{client: &http.Client{Timeout: 10 * time.Second}, certs: map[string]*x509.Certificate{}}
	v.cert = v.fetchCert
	return v
}

type snsEnvelope struct {
	Type             string `json:"Type"`
	MessageID        string `json:"MessageId"`
	Token            string `json:"Token"`
	TopicArn         string `json:"TopicArn"`
	Subject          string `json:"Subject"`
	Message          string `json:"Message"`
	SubscribeURL     string `json:"SubscribeURL"`
	Timestamp        string `json:"Timestamp"`
	SignatureVersion string `json:"SignatureVersion"`
	Signature        string `json:"Signature"`
	SigningCertURL   string `json:"SigningCertURL"`
}

// snsMessage authenticates an SNS delivery and returns its message (the S3
// event JSON) for a Notification. It confirms a SubscriptionConfirmation
// and returns nil. Anything not signed by SNS for SNS_TOPIC_ARN is refused.
func (s *Server) snsMessage(ctx context.Context, typ string, body []byte) ([]byte, error) {
	forbidden := upload.Errorf(upload.EFORBIDDEN, "This endpoint takes only the bucket's own events.")
	var m snsEnvelope
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, upload.Errorf(upload.EINVALID, "The SNS message is not JSON: %v", err)
	}
	if s.cfg.SNSTopicARN == "" || m.TopicArn != s.cfg.SNSTopicARN || m.Type != typ {
		return nil, forbidden
	}
	if err := s.sns.verify(ctx, &m, s.now()); err != nil {
		s.log.Warn("SNS message refused", "err", err, "topic", m.TopicArn, "message_id", m.MessageID)
		return nil, forbidden
	}
	switch m.Type {
	case "Notification":
		return []byte(m.Message), nil
	case "SubscriptionConfirmation":
		if err := s.sns.confirm(ctx, m.SubscribeURL); err != nil {
			return nil, upload.Errorf(upload.EUNAVAILABLE, "Could not confirm the SNS subscription: %v", err)
		}
		s.log.Info("SNS subscription confirmed", "topic", m.TopicArn)
	}
	return nil, nil
}

// stringToSign is the canonical form SNS signs, per message type.
func (m *snsEnvelope) stringToSign() (string, error) {
	var keys []string
	switch m.Type {
	case "Notification":
		keys = []string{"Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"}
	case "SubscriptionConfirmation", "UnsubscribeConfirmation":
		keys = []string{"Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"}
	default:
		return "", fmt.Errorf("unknown SNS message type %q", m.Type)
	}
	vals := map[string]string{"Message": m.Message, "MessageId": m.MessageID, "Subject": m.Subject,
		"Timestamp": m.Timestamp, "TopicArn": m.TopicArn, "Type": m.Type, "SubscribeURL": m.SubscribeURL, "Token": m.Token}
	var sb strings.Builder
	for _, k := range keys {
		if k == "Subject" && m.Subject == "" {
			continue // signed only when present
		}
		sb.WriteString(k + "\n" + vals[k] + "\n")
	}
	return sb.String(), nil
}

func (v *snsVerifier) verify(ctx context.Context, m *snsEnvelope, now time.Time) error {
	ts, err := time.Parse(time.RFC3339, m.Timestamp)
	if err != nil {
		return fmt.Errorf("timestamp %q: %w", m.Timestamp, err)
	}
	if now.Sub(ts) > snsMessageAge || ts.Sub(now) > 5*time.Minute {
		return fmt.Errorf("message of %s is outside the accepted window", m.Timestamp)
	}
	if err := checkSNSURL(m.SigningCertURL); err != nil {
		return fmt.Errorf("SigningCertURL: %w", err)
	}
	if !strings.HasSuffix(m.SigningCertURL, ".pem") {
		return fmt.Errorf("SigningCertURL %q is not a .pem", m.SigningCertURL)
	}
	var hash crypto.Hash
	switch m.SignatureVersion {
	case "1":
		hash = crypto.SHA1
	case "2":
		hash = crypto.SHA256
	default:
		return fmt.Errorf("SignatureVersion %q", m.SignatureVersion)
	}
	sig, err := base64.StdEncoding.DecodeString(m.Signature)
	if err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	msg, err := m.stringToSign()
	if err != nil {
		return err
	}
	cert, err := v.cachedCert(ctx, m.SigningCertURL)
	if err != nil {
		return err
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return fmt.Errorf("signing certificate has no RSA key")
	}
	var digest []byte
	if hash == crypto.SHA1 {
		d := sha1.Sum([]byte(msg))
		digest = d[:]
	} else {
		d := sha256.Sum256([]byte(msg))
		digest = d[:]
	}
	if err := rsa.VerifyPKCS1v15(pub, hash, digest, sig); err != nil {
		return fmt.Errorf("signature does not verify: %w", err)
	}
	return nil
}

// checkSNSURL accepts only https URLs on an SNS host.
func checkSNSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || !snsHost.MatchString(u.Host) {
		return fmt.Errorf("%q is not an https URL on sns.<region>.amazonaws.com", raw)
	}
	return nil
}

func (v *snsVerifier) cachedCert(ctx context.Context, certURL string) (*x509.Certificate, error) {
	v.mu.Lock()
	c, ok := v.certs[certURL]
	v.mu.Unlock()
	if ok {
		return c, nil
	}
	c, err := v.cert(ctx, certURL)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	if len(v.certs) >= maxSNSCerts {
		clear(v.certs) // SNS uses a handful; more is someone probing
	}
	v.certs[certURL] = c
	v.mu.Unlock()
	return c, nil
}

// fetchCert downloads the certificate and checks it chains to a system
// root for sns.amazonaws.com, so a certificate on a look-alike path of the
// right host is still Amazon's.
func (v *snsVerifier) fetchCert(ctx context.Context, certURL string) (*x509.Certificate, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, certURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch signing certificate: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch signing certificate: status %d, %v", resp.StatusCode, err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("signing certificate is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signing certificate: %w", err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{DNSName: "sns.amazonaws.com"}); err != nil {
		return nil, fmt.Errorf("signing certificate: %w", err)
	}
	return cert, nil
}

// confirm visits the SubscribeURL of a verified SubscriptionConfirmation.
func (v *snsVerifier) confirm(ctx context.Context, subscribeURL string) error {
	if err := checkSNSURL(subscribeURL); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, subscribeURL, nil)
	if err != nil {
		return err
	}
	resp, err := v.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("SNS answered %d", resp.StatusCode)
	}
	return nil
}
