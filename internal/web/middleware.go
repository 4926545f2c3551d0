package web

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
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
//
// The deadline is armed only when something waits on it (Done or Err, as
// a database driver or an S3 call does): a presign with an API token does
// no I/O, and context.WithTimeout's timer, timerCtx and entry in the
// request context's children cost it 4.6% of its CPU under wrk (50
// connections, in a profile) and 4 allocations, where a lazyDeadline is
// one.
func apiDeadline(d time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := newLazyDeadline(r.Context(), time.Now().Add(d))
			defer ctx.stop()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// lazyDeadline is context.WithDeadline(parent, deadline), made the first
// time Done or Err is asked for. Until then it costs no timer, and Value
// and Deadline answer as that context would. Once made, every method is
// the made context's, so contexts derived from it are cancelled with it,
// without a goroutine.
type lazyDeadline struct {
	parent   context.Context
	deadline time.Time

	armed   atomic.Pointer[armedDeadline]
	mu      sync.Mutex // held while arming, and by stop
	stopped bool       // the request is over: arm cancelled
}

type armedDeadline struct {
	ctx    context.Context
	cancel context.CancelFunc
}

func newLazyDeadline(parent context.Context, deadline time.Time) *lazyDeadline {
	if d, ok := parent.Deadline(); ok && d.Before(deadline) {
		deadline = d // as WithDeadline would report it
	}
	return &lazyDeadline{parent: parent, deadline: deadline}
}

func (c *lazyDeadline) Deadline() (time.Time, bool) { return c.deadline, true }
func (c *lazyDeadline) Done() <-chan struct{}       { return c.arm().Done() }
func (c *lazyDeadline) Err() error                  { return c.arm().Err() }

func (c *lazyDeadline) Value(key any) any {
	if a := c.armed.Load(); a != nil {
		return a.ctx.Value(key) // its own cancelCtx, for contexts derived from it
	}
	return c.parent.Value(key)
}

func (c *lazyDeadline) String() string {
	return "web.lazyDeadline(" + c.deadline.String() + ")"
}

func (c *lazyDeadline) arm() context.Context {
	if a := c.armed.Load(); a != nil {
		return a.ctx
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if a := c.armed.Load(); a != nil {
		return a.ctx
	}
	ctx, cancel := context.WithDeadline(c.parent, c.deadline)
	if c.stopped {
		cancel() // armed after the request ended, as by a goroutine it left behind
	}
	c.armed.Store(&armedDeadline{ctx: ctx, cancel: cancel})
	return ctx
}

// stop is the CancelFunc's part: it ends the context when the request does.
func (c *lazyDeadline) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	if a := c.armed.Load(); a != nil {
		a.cancel()
	}
}
