package web

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// bodyDeadline bounds the time a client may take to send a request body
// (HTTP_BODY_TIMEOUT). The server's ReadHeaderTimeout only covers the
// headers, and a ReadTimeout would also end the event streams, whose
// response is long, not their request: the connection's read deadline is
// the request's, and net/http cancels a request whose connection fails to
// read. So the deadline is set here, only for requests that have a body,
// and lifted once the body has been read to its end.
func (s *Server) bodyDeadline(next http.Handler) http.Handler {
	d := s.cfg.BodyTimeout
	if d <= 0 {
		d = 10 * time.Second
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		// The controller is kept inside the body: one allocation, not two.
		b := &deadlineBody{ReadCloser: r.Body, rc: *http.NewResponseController(w), limit: d}
		if err := b.rc.SetReadDeadline(time.Now().Add(d)); err == nil {
			r.Body = b
		}
		next.ServeHTTP(w, r)
	})
}

// errSlowBody is what reading a body that did not arrive in time returns.
var errSlowBody = errors.New("request body not received in time")

type deadlineBody struct {
	io.ReadCloser
	rc    http.ResponseController
	limit time.Duration
	once  sync.Once
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == nil:
	case err == io.EOF:
		// The whole body is in: the connection may idle again while the
		// handler works (net/http watches it for the client going away).
		b.once.Do(func() { b.rc.SetReadDeadline(time.Time{}) })
	case isTimeout(err):
		err = fmt.Errorf("%w (limit %s)", errSlowBody, b.limit)
	}
	return n, err
}

// isTimeout is apart from Read so that its net.Error, which errors.As
// makes escape, is allocated only for an error.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
