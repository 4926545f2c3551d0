package web

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"uploader/internal/upload"
)

// limiter hands out a token bucket per key (an owner or a client IP). The
// buckets live in this process: with several web dynos each enforces its
// own share, which is what a per-dyno guard against floods needs.
type limiter struct {
	mu      sync.Mutex
	perMin  int
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiter(perMinute int) *limiter {
	return &limiter{perMin: perMinute, buckets: map[string]*bucket{}, swept: time.Now()}
}

// allow takes a token for key. When none is left it returns how long
// until one is.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute {
		// Full buckets of callers gone quiet hold no information: drop them.
		for k, b := range l.buckets {
			if now.Sub(b.seen) > 2*time.Minute {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b, ok := l.buckets[key]
	if !ok {
		// A burst of a quarter minute's worth, refilled evenly.
		b = &bucket{lim: rate.NewLimiter(rate.Limit(float64(l.perMin)/60), max(1, l.perMin/4))}
		l.buckets[key] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// limitPresign applies the per-owner and per-IP presign limits.
func (s *Server) limitPresign(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := s.now()
		ip, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			ip = r.RemoteAddr
		}
		ok, wait := s.ipLimit.allow(ip, now)
		if ok {
			ok, wait = s.ownerLimit.allow(ownerOf(r.Context()).Owner, now)
		}
		if !ok {
			secs := int(math.Ceil(wait.Seconds()))
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			writeJSON(w, http.StatusTooManyRequests, errorBody{errorDetail{upload.ERATELIMIT,
				"Too many uploads started; try again in " + strconv.Itoa(secs) + " s."}})
			return
		}
		next.ServeHTTP(w, r)
	})
}
