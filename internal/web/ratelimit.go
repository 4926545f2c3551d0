package web

import (
	"container/list"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"uploader/internal/upload"
)

// limiterKeys bounds the buckets one limiter keeps. A bucket costs about
// 250 bytes (measured: 4.6 MiB for 20,000), so a flood from many
// addresses holds under 5 MiB per limiter; past the bound the bucket seen
// longest ago is forgotten.
const limiterKeys = 20_000

// limiter hands out a token bucket per key (an owner or a client IP). The
// buckets live in this process: with several web dynos each enforces its
// own share, which is what a per-dyno guard against floods needs.
type limiter struct {
	mu      sync.Mutex
	perMin  int
	maxKeys int
	buckets map[string]*list.Element // of *bucket
	lru     list.List                // front: seen most recently
}

type bucket struct {
	key  string
	lim  *rate.Limiter
	seen time.Time
}

func newLimiter(perMinute int) *limiter {
	return &limiter{perMin: perMinute, maxKeys: limiterKeys, buckets: map[string]*list.Element{}}
}

// allow takes a token for key. When none is left it returns how long
// until one is.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Buckets of callers quiet for two minutes are full again and hold no
	// information: drop them, oldest first.
	for e := l.lru.Back(); e != nil && now.Sub(e.Value.(*bucket).seen) > 2*time.Minute; e = l.lru.Back() {
		l.remove(e)
	}
	e, ok := l.buckets[key]
	if ok {
		l.lru.MoveToFront(e)
	} else {
		for l.lru.Len() >= l.maxKeys {
			l.remove(l.lru.Back())
		}
		// A burst of a quarter minute's worth, refilled evenly.
		b := &bucket{key: key, lim: rate.NewLimiter(rate.Limit(float64(l.perMin)/60), max(1, l.perMin/4))}
		e = l.lru.PushFront(b)
		l.buckets[key] = e
	}
	b := e.Value.(*bucket)
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

func (l *limiter) remove(e *list.Element) {
	delete(l.buckets, e.Value.(*bucket).key)
	l.lru.Remove(e)
}

func (l *limiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}

// limitPresign guards what signs a policy for an owner or creates rows
// (POST /api/uploads, the no-JS /uploads/{id}/uploaded): the per-IP limit,
// then the per-owner one. Anonymous sessions cost nothing to make (a
// client that drops its cookie is a new owner every time), so they are
// also counted together per address, against the per-owner budget.
func (s *Server) limitPresign(next http.Handler) http.Handler {
	return s.limit(true, next)
}

// limitByIP guards pages that sign a policy on every view (GET /) with the
// per-IP limit.
func (s *Server) limitByIP(next http.Handler) http.Handler {
	return s.limit(false, next)
}

func (s *Server) limit(perOwner bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := s.now()
		ip := ipKey(s.proxies.clientIP(r))
		ok, wait := s.ipLimit.allow(ip, now)
		if id := ownerOf(r.Context()); ok && perOwner {
			ok, wait = s.ownerLimit.allow(id.Owner, now)
			if ok && id.Anonymous {
				ok, wait = s.ownerLimit.allow("anonymous@"+ip, now)
			}
		}
		if ok {
			next.ServeHTTP(w, r)
			return
		}
		secs := strconv.Itoa(int(math.Ceil(wait.Seconds())))
		w.Header().Set("Retry-After", secs)
		if strings.HasPrefix(r.URL.Path, "/api/") {
			writeJSON(w, http.StatusTooManyRequests, errorBody{errorDetail{upload.ERATELIMIT,
				"Too many uploads started; try again in " + secs + " s."}})
			return
		}
		s.errorPage(w, r, upload.Errorf(upload.ERATELIMIT, "Too many requests from your address; try again in %s s.", secs))
	})
}
