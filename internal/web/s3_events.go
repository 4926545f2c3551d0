package web

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"uploader/internal/upload"
)

// s3Event is the part of an S3 event notification the service reads. The
// same shape comes from AWS (inside an SNS message) and from versitygw.
type s3Event struct {
	Records []struct {
		EventName string `json:"eventName"`
		S3        struct {
			Bucket struct {
				Name string `json:"name"`
			} `json:"bucket"`
			Object struct {
				Key  string `json:"key"`
				Size int64  `json:"size"`
			} `json:"object"`
		} `json:"s3"`
	} `json:"Records"`
	Event string `json:"Event"` // "s3:TestEvent" when a notification is set up
}

// s3Events handles POST /api/s3-events: the bucket's own word that an
// object arrived, so an upload completes even when its client never calls
// complete. It takes only events it can authenticate: an SNS notification
// signed by AWS for SNS_TOPIC_ARN, or, in development, a post carrying the
// secret the embedded gateway was started with. Completing is idempotent
// with the client's complete (same row update, same task ID).
func (s *Server) s3Events(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 256<<10))
	if err != nil {
		return upload.Errorf(upload.ETOOLARGE, "The event is larger than 256 KB.")
	}
	var raw []byte
	if typ := r.Header.Get("X-Amz-Sns-Message-Type"); typ != "" {
		raw, err = s.snsMessage(r.Context(), typ, body)
		if err != nil {
			return err
		}
		if raw == nil { // a subscription confirmed, or nothing for us
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
	} else {
		secret := r.URL.Query().Get("secret")
		if s.cfg.EventSecret == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(s.cfg.EventSecret)) != 1 {
			return upload.Errorf(upload.EFORBIDDEN, "This endpoint takes only the bucket's own events.")
		}
		raw = body
	}
	var ev s3Event
	if err := json.Unmarshal(raw, &ev); err != nil {
		return upload.Errorf(upload.EINVALID, "The event is not S3 event JSON: %v", err)
	}
	if err := s.handleS3Event(r.Context(), ev); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleS3Event(ctx context.Context, ev s3Event) error {
	var errs []error
	for _, rec := range ev.Records {
		// AWS names them "ObjectCreated:Put", versitygw "s3:ObjectCreated:Put".
		if !strings.HasPrefix(strings.TrimPrefix(rec.EventName, "s3:"), "ObjectCreated:") {
			continue
		}
		if s.cfg.Bucket != "" && rec.S3.Bucket.Name != s.cfg.Bucket {
			continue
		}
		key := rec.S3.Object.Key
		if k, err := url.QueryUnescape(key); err == nil { // AWS sends keys form-encoded
			key = k
		}
		id, ok := strings.CutPrefix(key, upload.IncomingPrefix)
		if !ok || !upload.ValidID(id) {
			continue
		}
		errs = append(errs, s.arrived(ctx, id))
	}
	return errors.Join(errs...)
}

// arrived completes the pending upload id, whose object S3 says is there,
// making its row from the object when it has none. Only unexpected
// failures are errors: an upload that is gone, done, or whose object is
// refused or not ours stays as it is (complete logged why).
func (s *Server) arrived(ctx context.Context, id string) error {
	u, err := s.store.Upload(ctx, id)
	if upload.ErrorCode(err) == upload.ENOTFOUND {
		obj, ferr := s.fromObject(ctx, id)
		if upload.ErrorCode(ferr) == upload.ENOTFOUND {
			return nil // deleted since, or written without our policy
		} else if ferr != nil {
			return ferr
		}
		u, err = s.record(ctx, obj)
	}
	if err != nil {
		switch upload.ErrorCode(err) {
		case upload.EINTERNAL, upload.EUNAVAILABLE:
			return err
		}
		s.log.Warn("S3 event for an upload that cannot be recorded", "upload_id", id, "err", err)
		return nil
	}
	if u.Status != upload.StatusPending {
		return nil
	}
	if _, err := s.complete(ctx, u); err != nil {
		switch upload.ErrorCode(err) {
		case upload.EINTERNAL, upload.EUNAVAILABLE:
			return err // a non-2xx answer: SNS delivers again
		}
		s.log.Warn("S3 event for an upload that cannot complete", "upload_id", id, "err", err)
		return nil
	}
	s.log.Info("upload completed by S3 event", "upload_id", id)
	return nil
}
