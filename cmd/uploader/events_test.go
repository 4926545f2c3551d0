package main

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestS3Events: the embedded gateway tells the app that an object arrived,
// so an upload whose client never calls complete still ends ready, long
// before the reconciler would look (its policy expires in 10 minutes). A
// stranger's event is refused.
func TestS3Events(t *testing.T) {
	a := startApp(t, map[string]string{"API_TOKENS": "token-a", "ALLOW_ANONYMOUS": "false"})
	img := photo(t, 640, 480)

	p := a.presign(t, "a.jpg", "image/jpeg", len(img), "avatar")
	if st, body := postToS3(t, p.Upload.URL, p.Upload.Fields, "image/jpeg", img); st != http.StatusCreated {
		t.Fatalf("POST to S3: %d %s", st, body)
	}
	// No complete. The poll gives up after 30 s: the reconciler would take
	// more than ten minutes.
	deadline := time.Now().Add(30 * time.Second)
	var s status
	for {
		a.do(t, "GET", "/api/uploads/"+p.ID, nil, &s)
		if s.Status == "ready" || s.Status == "failed" || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if s.Status != "ready" || len(s.Variants) == 0 {
		t.Fatalf("without complete: %s %+v; want ready from the S3 event", s.Status, s.Error)
	}
	// complete afterwards is still fine, and queues nothing new.
	if st := a.do(t, "POST", "/api/uploads/"+p.ID+"/complete", nil, nil); st != http.StatusAccepted {
		t.Errorf("complete after the event: %d, want 202", st)
	}

	t.Run("forged events are refused", func(t *testing.T) {
		q := a.presign(t, "b.jpg", "image/jpeg", len(img), "avatar")
		event := `{"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"uploads"},"object":{"key":"incoming/` + q.ID + `","size":10}}}]}`
		sns := `{"Type":"Notification","MessageId":"1","TopicArn":"arn:aws:sns:us-east-1:111122223333:t","Message":` +
			`"{}","Timestamp":"` + time.Now().UTC().Format(time.RFC3339) + `","SignatureVersion":"1","Signature":"AAAA",` +
			`"SigningCertURL":"https://sns.us-east-1.amazonaws.com/x.pem"}`
		cases := []struct {
			name, path, body string
			header           map[string]string
		}{
			{"no secret", "/api/s3-events", event, nil},
			{"wrong secret", "/api/s3-events?secret=0123456789abcdef", event, nil},
			{"empty secret", "/api/s3-events?secret=", event, nil},
			{"unsigned SNS", "/api/s3-events", sns, map[string]string{"X-Amz-Sns-Message-Type": "Notification"}},
		}
		for _, c := range cases {
			req, _ := http.NewRequest("POST", a.base+c.path, strings.NewReader(c.body))
			for k, v := range c.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s: %d, want 403", c.name, resp.StatusCode)
			}
		}
		if s := a.status(t, q.ID); s.Status != "awaiting_upload" {
			t.Errorf("after forged events: %s, want awaiting_upload", s.Status)
		}
	})
}
