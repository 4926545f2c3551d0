package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"uploader/internal/cdn"
	"uploader/internal/upload"
)

type ctxProbe int

// TestAPIDeadline: a handler that waits on a store which stops answering
// is ended by the deadline, whether it waits on the request's context or
// on one derived from it, and sees the request's values; the context ends
// with the request, as context.WithTimeout's would.
func TestAPIDeadline(t *testing.T) {
	wait := func(ctx context.Context) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Second): // never, unless the deadline is lost
			return nil
		}
	}
	for _, c := range []struct {
		name string
		wait func(ctx context.Context) error
	}{
		{"request context", wait},
		{"derived context", func(ctx context.Context) error {
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			return wait(ctx)
		}},
		{"value context over it", func(ctx context.Context) error {
			return wait(context.WithValue(ctx, ctxProbe(2), "x"))
		}},
		{"polling Err", func(ctx context.Context) error {
			for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			return nil
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var err error
			var value any
			var left context.Context
			h := apiDeadline(50 * time.Millisecond)(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				if _, ok := r.Context().Deadline(); !ok {
					t.Error("no deadline on the request's context")
				}
				value = r.Context().Value(ctxProbe(1))
				err = c.wait(r.Context())
				left = r.Context()
			}))
			r := httptest.NewRequest("GET", "/", nil)
			h.ServeHTTP(httptest.NewRecorder(), r.WithContext(context.WithValue(r.Context(), ctxProbe(1), "v")))
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("the waiting handler got %v, want context.DeadlineExceeded", err)
			}
			if value != "v" {
				t.Errorf("the request's value became %v", value)
			}
			if left.Err() == nil {
				t.Error("the context is still live after the request")
			}
		})
	}

	t.Run("ends with the request", func(t *testing.T) {
		for _, waitInside := range []bool{false, true} {
			var left context.Context
			h := apiDeadline(time.Hour)(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				if waitInside {
					_ = r.Context().Done()
				}
				left = r.Context()
			}))
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
			select {
			case <-left.Done():
			case <-time.After(10 * time.Second):
				t.Fatalf("waited inside: %v: the context outlived the request", waitInside)
			}
			if !errors.Is(left.Err(), context.Canceled) {
				t.Errorf("waited inside: %v: the context ended with %v, want context.Canceled", waitInside, left.Err())
			}
		}
	})

	t.Run("client gone", func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		var err error
		h := apiDeadline(time.Hour)(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			cancel()
			err = wait(r.Context())
		}))
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequestWithContext(parent, "GET", "/", nil))
		if !errors.Is(err, context.Canceled) {
			t.Errorf("a handler whose client went away got %v, want context.Canceled", err)
		}
	})

	t.Run("earlier deadline kept", func(t *testing.T) {
		parent, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		want, _ := parent.Deadline()
		var got time.Time
		h := apiDeadline(time.Hour)(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			got, _ = r.Context().Deadline()
		}))
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequestWithContext(parent, "GET", "/", nil))
		if !got.Equal(want) {
			t.Errorf("deadline %v, want the caller's earlier %v", got, want)
		}
	})
}

// hangingSessions is a session store behind a partition: lookups wait
// until their context ends.
type hangingSessions struct{ Sessions }

func (hangingSessions) Session(ctx context.Context, _, _ string) (*upload.Session, error) {
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("session lookup: %w", ctx.Err())
	case <-time.After(10 * time.Second): // never, unless the deadline is lost
		return &upload.Session{Owner: "acme", Kind: upload.SessionBrowser}, nil
	}
}

// TestAuthenticateWithin: the API's deadline covers the session lookup
// (a cookie or embed token whose store hangs gets an answer, not a hung
// request), and a handler reached with an API token sees both its
// identity and the deadline.
func TestAuthenticateWithin(t *testing.T) {
	s, err := New(Deps{Config: Config{APITokens: []string{"tok"}, SessionSecret: []byte("0123456789abcdef0123456789abcdef")},
		Sessions: hangingSessions{}, Profiles: upload.DefaultProfiles(1 << 20), CDN: cdn.New("http://cdn.example"),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	var reached bool
	var who identity
	var hasDeadline bool
	h := s.authenticateWithin(50 * time.Millisecond)(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		reached = true
		who = ownerOf(r.Context())
		_, hasDeadline = r.Context().Deadline()
	}))
	for _, auth := range []func(*http.Request){
		func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+embedPrefix+"x") },
		func(r *http.Request) { r.AddCookie(&http.Cookie{Name: sessionCookie, Value: browserPrefix + "x"}) },
	} {
		reached = false
		r := httptest.NewRequest("GET", "/api/uploads", nil)
		auth(r)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if reached || w.Code < 500 {
			t.Errorf("a session lookup that hung: handler reached %v, status %d, want a 5xx", reached, w.Code)
		}
	}
	r := httptest.NewRequest("GET", "/api/uploads", nil)
	r.Header.Set("Authorization", "Bearer tok")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if !reached || who.Via != viaToken || who.Owner == "" || !hasDeadline {
		t.Errorf("with the API token: reached %v, identity %+v, deadline %v", reached, who, hasDeadline)
	}
}
