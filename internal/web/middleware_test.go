package web

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/go-chi/chi/v5/middleware"
)

// TestRequestID: the client's X-Request-Id is kept; otherwise each request
// gets a new id of chi's shape, which the logger finds under chi's key.
func TestRequestID(t *testing.T) {
	var got []string
	h := requestID(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		got = append(got, middleware.GetReqID(r.Context()))
	}))
	for range 2 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Request-Id", "from-the-client")
	h.ServeHTTP(httptest.NewRecorder(), r)
	shape := regexp.MustCompile(`^[A-Za-z0-9_-]{10}-[0-9]{6,}$`)
	if !shape.MatchString(got[0]) || !shape.MatchString(got[1]) || got[0] == got[1] {
		t.Errorf("made ids %q, %q: want two different prefix-000123 ids", got[0], got[1])
	}
	if got[2] != "from-the-client" {
		t.Errorf("the client's X-Request-Id became %q", got[2])
	}
}
