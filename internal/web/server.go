// Package web is the HTTP side of uploader: pages, the JSON API, static
// files and, in development, the stand-in for the CDN.
package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"uploader/internal/cdn"
	"uploader/internal/s3store"
	"uploader/internal/upload"
)

// Objects is what the web role needs of the object store.
type Objects interface {
	PresignPost(ctx context.Context, p s3store.PostPolicy) (*s3store.PresignedPost, error)
	Head(ctx context.Context, key string) (s3store.ObjectInfo, error)
	Get(ctx context.Context, key string, maxBytes int64) ([]byte, error)
	Delete(ctx context.Context, keys ...string) error
	DeletePrefix(ctx context.Context, prefix string) error

	CreateMultipart(ctx context.Context, key, contentType string) (string, error)
	PresignPart(ctx context.Context, key, uploadID string, number int, size int64, expires time.Duration) (string, error)
	ListParts(ctx context.Context, key, uploadID string) ([]s3store.Part, error)
	CompleteMultipart(ctx context.Context, key, uploadID string, parts []s3store.Part) error
	AbortMultipart(ctx context.Context, key, uploadID string) error
	PresignRequest(ctx context.Context, method, key string, query url.Values, headers map[string]string, expires time.Duration) (s3store.Signed, error)
}

// Enqueuer queues the image job of an upload.
type Enqueuer interface {
	EnqueueProcess(ctx context.Context, id string, p upload.Profile) error
}

// Invalidator asks the CDN to forget cached paths.
type Invalidator interface {
	Invalidate(ctx context.Context, paths []string) error
}

// Pinger is a dependency /healthz checks.
type Pinger interface {
	Ping(ctx context.Context) error
}

// defaultProfile is the profile of a request that names none.
const defaultProfile = "photo"

// Config is the web role's part of the configuration.
type Config struct {
	AppURL         string // public origin, e.g. https://uploads.example.com
	APITokens      []string
	AllowAnonymous bool
	SessionSecret  []byte
	SecureCookies  bool
	UploadExpires  time.Duration
	S3Origin       string // scheme://host of the S3 POST endpoint, for the CSP
	ServeCDN       bool   // serve variants/ at /cdn/ (development only)

	MultipartThreshold int64         // declared sizes above this go up in parts (profiles that allow it)
	MultipartExpires   time.Duration // how long a multipart upload may be resumed
	EventSecret        string        // the embedded gateway's webhook URL carries it; "" = no webhook
	SNSTopicARN        string        // SNS notifications of this topic are accepted; "" = none
	Bucket             string        // events about other buckets are ignored

	PresignPerMinute   int // per owner
	PresignPerMinuteIP int // per client IP

	// TrustedProxies (TRUSTED_PROXIES) names the hops whose X-Forwarded-For
	// is believed: CIDRs, addresses, or "heroku". Empty trusts none.
	TrustedProxies string

	// BodyTimeout (HTTP_BODY_TIMEOUT) is the longest a client may take to
	// send a request body; 0 means 10 s.
	BodyTimeout time.Duration

	// StreamsPerOwner and StreamsPerIP (EVENT_STREAMS_PER_OWNER,
	// EVENT_STREAMS_PER_IP) cap the open event streams; 0 means 8 and 32.
	StreamsPerOwner, StreamsPerIP int

	AdminUser, AdminPassword string // guard Admin; both empty = no admin surface

	Production     bool          // sign-in cookies are Secure whatever APP_URL says
	SessionTTL     time.Duration // lifetime of a signed-in browser's session
	AllowedOrigins []string      // origins whose pages may call the API (embed.js)
}

// Server holds the web role's dependencies. Build it with New.
type Server struct {
	cfg      Config
	store    upload.Store
	objects  Objects
	jobs     Enqueuer
	profiles upload.Profiles
	cdn      *cdn.URLs
	health   map[string]Pinger
	log      *slog.Logger
	views    *views
	tokens   map[[32]byte]string // sha256(token) -> owner
	now      func() time.Time
	admin    http.Handler
	cdnCache Invalidator
	sessions Sessions      // nil: nobody signs in (no sign-in links or embed tokens)
	csp      string        // the pages' Content-Security-Policy
	idKey    *upload.IDKey // issues upload IDs with a MAC keyed from SessionSecret

	ownerLimit, ipLimit *limiter
	sns                 *snsVerifier
	proxies             proxies
	streams             *streamGate
	status              StatusWatcher

	closing     chan struct{} // closed when the HTTP server starts shutting down
	closingOnce sync.Once
}

// Deps are the parts New wires together.
type Deps struct {
	Config   Config
	Store    upload.Store
	Objects  Objects
	Jobs     Enqueuer
	Profiles upload.Profiles
	CDN      *cdn.URLs
	Health   map[string]Pinger
	Logger   *slog.Logger
	Admin    http.Handler // the queue dashboard (asynqmon), mounted at /admin/queues; may be nil
	CDNCache Invalidator  // may be nil: nothing to invalidate

	Status   StatusWatcher // may be nil: event streams then poll the database
	Sessions Sessions      // may be nil: no sign-in links, sessions or embed tokens
}

// tokenOwner is the owner an API token stands for: named by the token's
// hash, so the database and logs never hold the token.
func tokenOwner(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "t_" + hex.EncodeToString(sum[:8])
}

// New parses the templates (a broken template fails here, not on a request)
// and returns the server.
func New(d Deps) (*Server, error) {
	v, err := loadViews()
	if err != nil {
		return nil, err
	}
	if d.Config.MultipartThreshold <= 0 {
		d.Config.MultipartThreshold = upload.DefaultMultipartThreshold
	}
	if d.Config.MultipartExpires <= 0 {
		d.Config.MultipartExpires = 24 * time.Hour
	}
	if _, ok := d.Profiles[defaultProfile]; !ok {
		return nil, fmt.Errorf("web: the default profile %q is not defined", defaultProfile)
	}
	if len(d.Config.SessionSecret) < 16 {
		return nil, errors.New("web: session secret shorter than 16 bytes")
	}
	s := &Server{
		cfg: d.Config, store: d.Store, objects: d.Objects, jobs: d.Jobs, profiles: d.Profiles,
		cdn: d.CDN, health: d.Health, log: d.Logger, views: v,
		tokens: map[[32]byte]string{}, now: time.Now, admin: d.Admin, cdnCache: d.CDNCache,
		sessions:   d.Sessions,
		closing:    make(chan struct{}),
		ownerLimit: newLimiter(max(1, d.Config.PresignPerMinute)),
		ipLimit:    newLimiter(max(1, d.Config.PresignPerMinuteIP)),
		sns:        newSNSVerifier(),
		streams:    newStreamGate(d.Config.StreamsPerOwner, d.Config.StreamsPerIP),
		status:     d.Status,
		idKey:      upload.NewIDKey(deriveKey(d.Config.SessionSecret, "upload-id")),
	}
	if d.Admin != nil && (d.Config.AdminUser == "" || d.Config.AdminPassword == "") {
		return nil, errors.New("web: the admin surface needs ADMIN_USER and ADMIN_PASSWORD")
	}
	if s.proxies, err = parseProxies(d.Config.TrustedProxies); err != nil {
		return nil, err
	}
	if s.cfg.SessionTTL <= 0 {
		s.cfg.SessionTTL = 12 * time.Hour
	}
	s.csp = s.pageCSP()
	for _, t := range d.Config.APITokens {
		s.tokens[sha256.Sum256([]byte(t))] = tokenOwner(t)
	}
	return s, nil
}

// Closing tells long-lived responses (the event streams) to end, so a
// graceful shutdown does not wait for them. Register it with the
// http.Server's RegisterOnShutdown.
func (s *Server) Closing() {
	s.closingOnce.Do(func() { close(s.closing) })
}

// handlerFunc is an HTTP handler that returns its error; adapt turns it
// into an http.HandlerFunc so errors are answered in one place.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) api(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.errorJSON(w, r, err)
		}
	}
}

func (s *Server) page(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.errorPage(w, r, err)
		}
	}
}

var statusOf = map[string]int{
	upload.ECONFLICT:     http.StatusConflict,
	upload.EINVALID:      http.StatusBadRequest,
	upload.ENOTFOUND:     http.StatusNotFound,
	upload.EUNAUTHORIZED: http.StatusUnauthorized,
	upload.EFORBIDDEN:    http.StatusForbidden,
	upload.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	upload.EUNSUPPORTED:  http.StatusUnsupportedMediaType,
	upload.ECORRUPT:      http.StatusUnprocessableEntity,
	upload.ETOOMANYPX:    http.StatusUnprocessableEntity,
	upload.ERATELIMIT:    http.StatusTooManyRequests,
	upload.EUNAVAILABLE:  http.StatusServiceUnavailable,
	upload.EEXPIRED:      http.StatusGone,
	upload.EINTERNAL:     http.StatusInternalServerError,
}

// ErrorStatus maps an error to its HTTP status. Unknown codes are 500.
func ErrorStatus(err error) int {
	if st, ok := statusOf[upload.ErrorCode(err)]; ok {
		return st
	}
	return http.StatusInternalServerError
}

// logError logs the cause of every answer of ours that is a 5xx, with the
// request id (the logger's), so that an operator can find why; the client
// sees only the error's safe message. The store adapters decided the code
// (an outage is EUNAVAILABLE); this layer only maps it.
func (s *Server) logError(r *http.Request, status int, err error) {
	if status >= 500 {
		s.logger(r).Error("request failed", "status", status, "code", upload.ErrorCode(err), "err", err)
	}
}

// retryAfter tells a client when to retry an answer it may retry.
func retryAfter(w http.ResponseWriter, status int) {
	if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "2")
	}
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (s *Server) errorJSON(w http.ResponseWriter, r *http.Request, err error) {
	st := ErrorStatus(err)
	s.logError(r, st, err)
	retryAfter(w, st)
	writeJSON(w, st, errorBody{errorDetail{upload.ErrorCode(err), upload.ErrorMessage(err)}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":{"code":"internal","message":"encoding failed"}}`, http.StatusInternalServerError)
		return
	}
	writeJSONBody(w, status, append(body, '\n'))
}

// The values of writeJSONBody's headers, shared: Header().Set would make
// two slices per answer.
var (
	jsonType = []string{"application/json; charset=utf-8"}
	noStore  = []string{"no-store"}
)

// writeJSONBody writes body, JSON already encoded with its newline.
func writeJSONBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = jsonType
	h["Cache-Control"] = noStore
	w.WriteHeader(status)
	w.Write(body)
}

// maxJSONBody bounds the small JSON bodies decodeJSON reads.
const maxJSONBody = 16 << 10

// bodyBufs holds the buffers decodeJSON reads bodies into, and the
// presign answer is written in: a json.Decoder would allocate its own.
var bodyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// decodeJSON reads a small JSON body into v.
func decodeJSON(r *http.Request, v any) error {
	bp := bodyBufs.Get().(*[]byte)
	defer bodyBufs.Put(bp)
	body, err := readBody((*bp)[:0], r.Body, maxJSONBody)
	*bp = body[:0]
	switch {
	case errors.Is(err, errSlowBody):
		return upload.Errorf(upload.EINVALID, "The request body arrived too slowly; send it all at once.")
	case errors.Is(err, errBodyTooLarge):
		return upload.Errorf(upload.ETOOLARGE, "The request body is larger than %d KB.", maxJSONBody>>10)
	case err != nil:
		return upload.Errorf(upload.EINVALID, "The request body could not be read: %v", err)
	}
	if f, ok := v.(fastDecoder); ok && f.decodeFast(body) {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return upload.Errorf(upload.EINVALID, "The request body is not valid JSON: %v", err)
	}
	return nil
}

var errBodyTooLarge = errors.New("request body too large")

// fastDecoder is a request body that can parse its usual form without
// reflection, and says false to leave anything else to json.Unmarshal.
type fastDecoder interface {
	decodeFast(body []byte) bool
}

// readBody appends body to buf, up to limit bytes; a longer body is
// errBodyTooLarge.
func readBody(buf []byte, body io.Reader, limit int) ([]byte, error) {
	if body == nil {
		return buf, nil
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := body.Read(buf[len(buf):min(cap(buf), limit+1)])
		buf = buf[:len(buf)+n]
		if len(buf) > limit {
			return buf, errBodyTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
