package web

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5/middleware"
)

// logger is the server's logger with the request's id; built on demand,
// since most requests never log.
func (s *Server) logger(r *http.Request) *slog.Logger {
	if id := middleware.GetReqID(r.Context()); id != "" {
		return s.log.With("request_id", id)
	}
	return s.log
}

// requestIDPrefix starts the ids requestID makes: random per process, so
// ids from several dynos do not collide.
var requestIDPrefix = newSecret("")[:10]

var requestSeq atomic.Uint64

// requestID is chi's middleware.RequestID (the client's X-Request-Id, or a
// new prefix-000001 id, under chi's context key, so GetReqID finds it)
// without its fmt.Sprintf on every request.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(middleware.RequestIDHeader)
		if id == "" {
			var b [40]byte
			n := append(append(b[:0], requestIDPrefix...), '-')
			seq := requestSeq.Add(1)
			for p := uint64(100000); p > 1 && seq < p; p /= 10 {
				n = append(n, '0') // chi pads to 6 digits
			}
			id = string(strconv.AppendUint(n, seq, 10))
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), middleware.RequestIDKey, id)))
	})
}

// requestLog logs one line per request: at debug level, or at warn for
// server errors.
func (s *Server) requestLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		level := slog.LevelDebug
		if ww.Status() >= 500 {
			level = slog.LevelWarn
		}
		if !s.log.Enabled(r.Context(), level) {
			return
		}
		s.logger(r).Log(r.Context(), level, "request", "method", r.Method, "path", r.URL.Path,
			"status", ww.Status(), "bytes", ww.BytesWritten(), "ms", time.Since(start).Milliseconds())
	})
}

// pageCSP is the strict Content-Security-Policy of every page: no inline
// script or style.
func (s *Server) pageCSP() string {
	img := []string{"'self'", "data:", "blob:"}
	if o := s.cdn.Origin(); o != "" {
		img = append(img, o)
	}
	connect := []string{"'self'"}
	form := []string{"'self'"}
	if s.cfg.S3Origin != "" {
		connect = append(connect, s.cfg.S3Origin)
		form = append(form, s.cfg.S3Origin)
	}
	csp := strings.Join([]string{
		"default-src 'self'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src " + strings.Join(img, " "),
		"connect-src " + strings.Join(connect, " "),
		"form-action " + strings.Join(form, " "),
		"frame-ancestors 'none'",
		"base-uri 'none'",
		"object-src 'none'",
	}, "; ")
	return csp
}

// securityHeaders sets the page CSP and the other headers every page carries.
// The values are shared by every response rather than made by Set each
// time: a slice of one is safe to share, since Add copies it to grow it.
func (s *Server) securityHeaders(next http.Handler) http.Handler {
	csp := []string{s.csp}
	nosniff := []string{"nosniff"}
	referrer := []string{"strict-origin-when-cross-origin"}
	deny := []string{"DENY"}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Security-Policy"] = csp
		h["X-Content-Type-Options"] = nosniff
		h["Referrer-Policy"] = referrer
		h["X-Frame-Options"] = deny
		next.ServeHTTP(w, r)
	})
}

// apiDeadline bounds a request's work: a database or store that stops
// answering (a partition rather than a refusal) then ends in a 503 the
// client can retry, instead of a request that hangs.
func apiDeadline(d time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), d)
			defer cancel()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}
