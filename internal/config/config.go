// Package config reads the service's settings from the environment.
// Load never fails on a missing production value; Validate does, with a
// message that names the variable and says what a good value looks like.
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Config is every setting of the service. Field comments name the variable.
type Config struct {
	Env     string // APP_ENV: "development" or "production"
	Port    int    // PORT
	AppURL  string // APP_URL: the public origin of the web app
	DataDir string // DATA_DIR: where `uploader dev` keeps its embedded S3 and SQLite

	// BindAddr (BIND_ADDR) is the interface the HTTP server listens on:
	// empty = all of them, except under `uploader dev`, which uses 127.0.0.1.
	BindAddr string
	// BodyTimeout (HTTP_BODY_TIMEOUT) bounds the time a client may take to
	// send a request body.
	BodyTimeout time.Duration

	DatabaseURL string // DATABASE_URL: postgres://… or sqlite:PATH
	RedisURL    string // REDIS_URL: redis:// or rediss://
	// RedisInsecureSkipVerify accepts Heroku Redis's self-signed certificate
	// (REDIS_TLS_INSECURE_SKIP_VERIFY); it must be asked for explicitly.
	RedisInsecureSkipVerify bool

	S3Bucket    string // S3_BUCKET
	S3Region    string // S3_REGION (AWS_REGION also accepted)
	S3Endpoint  string // S3_ENDPOINT: a non-AWS endpoint; empty for AWS
	S3AccessKey string // AWS_ACCESS_KEY_ID
	S3SecretKey string // AWS_SECRET_ACCESS_KEY
	// S3SessionToken (AWS_SESSION_TOKEN) goes with temporary keys (SSO,
	// an assumed role); with no keys the SDK's default chain finds
	// credentials itself (ECS task role, EC2 instance profile, ~/.aws).
	S3SessionToken string
	DevS3Addr      string // DEV_S3_ADDR: where `uploader dev` serves its embedded S3
	DevS3Events    bool   // DEV_S3_EVENTS: whether that gateway posts bucket events to the app

	CDNBaseURL string // CDN_BASE_URL: where variants/ is served; empty in dev = the app's /cdn

	CloudFrontDistributionID  string        // CLOUDFRONT_DISTRIBUTION_ID: invalidated on delete
	CloudFrontDistributionARN string        // CLOUDFRONT_DISTRIBUTION_ARN: for the bucket policy `setup` prints
	CloudFrontKeyPairID       string        // CLOUDFRONT_KEY_PAIR_ID: signs URLs of private profiles
	CloudFrontPrivateKey      string        // CLOUDFRONT_PRIVATE_KEY: PEM, or base64 of PEM
	CloudFrontURLExpires      time.Duration // CLOUDFRONT_URL_EXPIRES: lifetime of signed URLs

	APITokens      []string      // API_TOKENS: comma-separated bearer tokens
	AllowAnonymous bool          // ALLOW_ANONYMOUS: browser sessions without a token
	SessionSecret  string        // SESSION_SECRET: signs session cookies
	UploadExpires  time.Duration // UPLOAD_EXPIRES: lifetime of a presigned POST (and of part URLs)
	SessionTTL     time.Duration // SESSION_TTL: lifetime of a browser signed in by a link
	AllowedOrigins []string      // ALLOWED_ORIGINS: host pages that may call the API (embed.js)

	MultipartThreshold int64         // MULTIPART_THRESHOLD: bytes above which uploads go in parts
	MultipartExpires   time.Duration // MULTIPART_EXPIRES: how long a multipart upload may be resumed
	SNSTopicARN        string        // SNS_TOPIC_ARN: the topic whose S3 events /api/s3-events accepts

	PresignPerMinute   int // PRESIGN_PER_MINUTE: presigns per owner per minute
	PresignPerMinuteIP int // PRESIGN_PER_MINUTE_IP: presigns per client IP per minute
	// TrustedProxies (TRUSTED_PROXIES) lists the proxies whose
	// X-Forwarded-For is believed: CIDRs, addresses, or "heroku" (the peer
	// is Heroku's router; the hop it appends is the client). Empty: none.
	TrustedProxies string

	StreamsPerOwner int // EVENT_STREAMS_PER_OWNER: open status streams per owner
	StreamsPerIP    int // EVENT_STREAMS_PER_IP: open status streams per client IP

	AdminUser     string // ADMIN_USER: guards /admin/queues (asynqmon)
	AdminPassword string // ADMIN_PASSWORD

	MaxPixels         int64  // MAX_PIXELS
	ProfilesFile      string // PROFILES_FILE: JSON array of extra profiles
	WorkerConcurrency int    // WORKER_CONCURRENCY
	WorkerMemoryMB    int    // WORKER_MEMORY_MB
	// WorkerPollInterval is how often an idle worker checks its queues
	// (WORKER_POLL_INTERVAL): asynq has no blocking pop.
	WorkerPollInterval time.Duration
	OptimizeTimeout    time.Duration // OPTIMIZE_TIMEOUT: per optimizer run
	LogLevel           string        // LOG_LEVEL: debug, info, warn, error
}

// Load reads the configuration through getenv (os.Getenv in production, a
// map in tests). It fills defaults and reports values that cannot be parsed.
func Load(getenv func(string) string) (Config, error) {
	c := Config{
		Env:         or(getenv("APP_ENV"), "production"),
		AppURL:      strings.TrimRight(getenv("APP_URL"), "/"),
		DataDir:     or(getenv("DATA_DIR"), "./tmp/dev"),
		DatabaseURL: getenv("DATABASE_URL"),
		RedisURL:    getenv("REDIS_URL"),
		S3Bucket:    getenv("S3_BUCKET"),
		S3Region:    or(getenv("S3_REGION"), or(getenv("AWS_REGION"), "us-east-1")),
		S3Endpoint:  strings.TrimRight(getenv("S3_ENDPOINT"), "/"),
		S3AccessKey: getenv("AWS_ACCESS_KEY_ID"),
		S3SecretKey: getenv("AWS_SECRET_ACCESS_KEY"),

		S3SessionToken: getenv("AWS_SESSION_TOKEN"),
		DevS3Addr:      or(getenv("DEV_S3_ADDR"), "127.0.0.1:9000"),
		CDNBaseURL:     strings.TrimRight(getenv("CDN_BASE_URL"), "/"),

		CloudFrontDistributionID:  getenv("CLOUDFRONT_DISTRIBUTION_ID"),
		CloudFrontDistributionARN: getenv("CLOUDFRONT_DISTRIBUTION_ARN"),
		CloudFrontKeyPairID:       getenv("CLOUDFRONT_KEY_PAIR_ID"),
		CloudFrontPrivateKey:      getenv("CLOUDFRONT_PRIVATE_KEY"),
		SessionSecret:             getenv("SESSION_SECRET"),
		ProfilesFile:              getenv("PROFILES_FILE"),
		LogLevel:                  or(getenv("LOG_LEVEL"), "info"),
		AdminUser:                 getenv("ADMIN_USER"),
		AdminPassword:             getenv("ADMIN_PASSWORD"),
		TrustedProxies:            strings.TrimSpace(getenv("TRUSTED_PROXIES")),
		BindAddr:                  strings.Trim(strings.TrimSpace(getenv("BIND_ADDR")), "[]"),
		AllowAnonymous:            false,
		SNSTopicARN:               getenv("SNS_TOPIC_ARN"),
	}
	var errs []error
	c.Port = intVar(getenv, "PORT", 8080, &errs)
	c.RedisInsecureSkipVerify = boolVar(getenv, "REDIS_TLS_INSECURE_SKIP_VERIFY", false, &errs)
	c.DevS3Events = boolVar(getenv, "DEV_S3_EVENTS", true, &errs)
	c.BodyTimeout = durationVar(getenv, "HTTP_BODY_TIMEOUT", 10*time.Second, &errs)
	c.UploadExpires = durationVar(getenv, "UPLOAD_EXPIRES", 10*time.Minute, &errs)
	c.MultipartThreshold = int64(intVar(getenv, "MULTIPART_THRESHOLD", 16<<20, &errs)) // upload.DefaultMultipartThreshold
	c.MultipartExpires = durationVar(getenv, "MULTIPART_EXPIRES", 24*time.Hour, &errs)
	c.CloudFrontURLExpires = durationVar(getenv, "CLOUDFRONT_URL_EXPIRES", time.Hour, &errs)
	c.SessionTTL = durationVar(getenv, "SESSION_TTL", 12*time.Hour, &errs)
	for _, o := range strings.Split(getenv("ALLOWED_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.AllowedOrigins = append(c.AllowedOrigins, o)
		}
	}
	// The ID is the ARN's last part; one variable is enough.
	if c.CloudFrontDistributionID == "" && c.CloudFrontDistributionARN != "" {
		if i := strings.LastIndex(c.CloudFrontDistributionARN, "/"); i >= 0 {
			c.CloudFrontDistributionID = c.CloudFrontDistributionARN[i+1:]
		}
	}
	c.MaxPixels = int64(intVar(getenv, "MAX_PIXELS", 50_000_000, &errs))
	c.PresignPerMinute = intVar(getenv, "PRESIGN_PER_MINUTE", 120, &errs)
	c.PresignPerMinuteIP = intVar(getenv, "PRESIGN_PER_MINUTE_IP", 600, &errs)
	c.StreamsPerOwner = intVar(getenv, "EVENT_STREAMS_PER_OWNER", 8, &errs)
	c.StreamsPerIP = intVar(getenv, "EVENT_STREAMS_PER_IP", 32, &errs)
	c.WorkerConcurrency = intVar(getenv, "WORKER_CONCURRENCY", 2, &errs)
	c.WorkerMemoryMB = intVar(getenv, "WORKER_MEMORY_MB", 1024, &errs)
	c.OptimizeTimeout = durationVar(getenv, "OPTIMIZE_TIMEOUT", 20*time.Second, &errs)
	c.WorkerPollInterval = durationVar(getenv, "WORKER_POLL_INTERVAL", 100*time.Millisecond, &errs)
	for _, t := range strings.Split(getenv("API_TOKENS"), ",") {
		if t = strings.TrimSpace(t); t != "" {
			c.APITokens = append(c.APITokens, t)
		}
	}
	// Anonymous browser sessions are on by default only when no tokens are
	// configured; with tokens set they must be asked for.
	c.AllowAnonymous = boolVar(getenv, "ALLOW_ANONYMOUS", len(c.APITokens) == 0, &errs)
	return c, errors.Join(errs...)
}

// Dev reports whether the configuration runs on embedded defaults.
func (c Config) Dev() bool { return c.Env == "development" }

// Validate checks every value. In development the S3, Redis and database
// settings may be empty: `uploader dev` fills them with embedded parts.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Env != "development" && c.Env != "production" {
		add("APP_ENV=%q: use development or production", c.Env)
	}
	if c.Port <= 0 || c.Port > 65535 {
		add("PORT=%d: use a TCP port between 1 and 65535, e.g. 8080", c.Port)
	}
	if c.BindAddr != "" && c.BindAddr != "localhost" {
		if _, err := netip.ParseAddr(c.BindAddr); err != nil {
			add("BIND_ADDR=%q: use an IP address to listen on, e.g. 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)", c.BindAddr)
		}
	}
	if c.BodyTimeout < time.Second || c.BodyTimeout > 10*time.Minute {
		add("HTTP_BODY_TIMEOUT=%s: use a duration between 1s and 10m (default 10s)", c.BodyTimeout)
	}
	if c.AppURL != "" {
		if u, err := url.Parse(c.AppURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("APP_URL=%q: use the app's public origin, e.g. https://uploads.example.com", c.AppURL)
		}
	}
	if c.CDNBaseURL != "" {
		if u, err := url.Parse(c.CDNBaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("CDN_BASE_URL=%q: use the CloudFront origin, e.g. https://d111111abcdef8.cloudfront.net", c.CDNBaseURL)
		}
	}
	if c.S3Endpoint != "" {
		if u, err := url.Parse(c.S3Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("S3_ENDPOINT=%q: use a URL such as http://127.0.0.1:9000, or leave it empty for AWS", c.S3Endpoint)
		}
	}
	if (c.S3AccessKey == "") != (c.S3SecretKey == "") {
		add("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: set both, or neither to use the SDK's default credential chain (instance or task role, ~/.aws, SSO)")
	} else if c.S3SessionToken != "" && c.S3AccessKey == "" {
		add("AWS_SESSION_TOKEN: set it with the temporary AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY it belongs to, or unset all three to use the default credential chain")
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") && !strings.HasPrefix(c.DatabaseURL, "sqlite:") && !strings.HasPrefix(c.DatabaseURL, "file:") {
		add("DATABASE_URL: use postgres://user:pass@host:5432/db or sqlite:PATH")
	}
	if c.RedisURL != "" && !hasAnyPrefix(c.RedisURL, "redis://", "rediss://", "redis-sentinel://", "rediss-sentinel://", "redis-cluster://", "rediss-cluster://") {
		add("REDIS_URL: use redis://host:6379, rediss://… (Heroku Redis), redis-sentinel://h:26379,h2:26379?master=NAME, or redis-cluster://h:7000,h2:7001")
	}
	if c.WorkerPollInterval < 10*time.Millisecond || c.WorkerPollInterval > 10*time.Second {
		add("WORKER_POLL_INTERVAL=%s: use a duration between 10ms and 10s (default 100ms)", c.WorkerPollInterval)
	}
	if c.UploadExpires < 30*time.Second || c.UploadExpires > 7*24*time.Hour {
		add("UPLOAD_EXPIRES=%s: use a duration between 30s and 168h, e.g. 10m", c.UploadExpires)
	}
	if c.SessionTTL < time.Minute || c.SessionTTL > 30*24*time.Hour {
		add("SESSION_TTL=%s: use a duration between 1m and 720h, e.g. 12h", c.SessionTTL)
	}
	for _, o := range c.AllowedOrigins {
		if u, err := url.Parse(o); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil || o != u.Scheme+"://"+u.Host {
			add("ALLOWED_ORIGINS: %q is not an origin; use scheme://host[:port] without a path or trailing slash, e.g. https://www.example.com (comma-separated)", o)
		}
	}
	if c.MultipartThreshold < 1 {
		add("MULTIPART_THRESHOLD=%d: use a size in bytes, e.g. 16777216 (16 MiB, the default)", c.MultipartThreshold)
	}
	if c.MultipartExpires < c.UploadExpires || c.MultipartExpires > 7*24*time.Hour {
		add("MULTIPART_EXPIRES=%s: use a duration between UPLOAD_EXPIRES (%s) and 168h, e.g. 24h", c.MultipartExpires, c.UploadExpires)
	}
	if c.SNSTopicARN != "" && !snsARNPattern.MatchString(c.SNSTopicARN) {
		add("SNS_TOPIC_ARN=%q: use the topic's ARN, e.g. arn:aws:sns:us-east-1:111122223333:uploads-events", c.SNSTopicARN)
	}
	if c.MaxPixels < 1_000_000 {
		add("MAX_PIXELS=%d: use at least 1000000 (1 MP); the default is 50000000", c.MaxPixels)
	}
	if c.WorkerConcurrency < 1 || c.WorkerConcurrency > 64 {
		add("WORKER_CONCURRENCY=%d: use 1..64", c.WorkerConcurrency)
	}
	if c.CloudFrontDistributionID != "" && !cfIDPattern.MatchString(c.CloudFrontDistributionID) {
		add("CLOUDFRONT_DISTRIBUTION_ID=%q: use the distribution's ID, e.g. EDFDVBD6EXAMPLE", c.CloudFrontDistributionID)
	}
	if c.CloudFrontDistributionARN != "" {
		if !cfARNPattern.MatchString(c.CloudFrontDistributionARN) {
			add("CLOUDFRONT_DISTRIBUTION_ARN=%q: use the distribution's ARN, e.g. arn:aws:cloudfront::111122223333:distribution/EDFDVBD6EXAMPLE", c.CloudFrontDistributionARN)
		} else if !strings.HasSuffix(c.CloudFrontDistributionARN, "/"+c.CloudFrontDistributionID) {
			add("CLOUDFRONT_DISTRIBUTION_ARN and CLOUDFRONT_DISTRIBUTION_ID name different distributions")
		}
	}
	if (c.CloudFrontKeyPairID == "") != (c.CloudFrontPrivateKey == "") {
		add("CLOUDFRONT_KEY_PAIR_ID and CLOUDFRONT_PRIVATE_KEY: set both to sign URLs of private profiles, or neither")
	}
	if c.CloudFrontURLExpires < time.Minute || c.CloudFrontURLExpires > 7*24*time.Hour {
		add("CLOUDFRONT_URL_EXPIRES=%s: use a duration between 1m and 168h, e.g. 1h", c.CloudFrontURLExpires)
	}
	if c.PresignPerMinute < 1 {
		add("PRESIGN_PER_MINUTE=%d: use at least 1 (default 120)", c.PresignPerMinute)
	}
	if c.PresignPerMinuteIP < 1 {
		add("PRESIGN_PER_MINUTE_IP=%d: use at least 1 (default 600)", c.PresignPerMinuteIP)
	}
	if c.StreamsPerOwner < 1 || c.StreamsPerOwner > 10_000 {
		add("EVENT_STREAMS_PER_OWNER=%d: use 1..10000 (default 8)", c.StreamsPerOwner)
	}
	if c.StreamsPerIP < 1 || c.StreamsPerIP > 100_000 {
		add("EVENT_STREAMS_PER_IP=%d: use 1..100000 (default 32)", c.StreamsPerIP)
	}
	for _, f := range strings.Split(c.TrustedProxies, ",") {
		if f = strings.TrimSpace(f); f == "" || strings.EqualFold(f, "heroku") {
			continue
		}
		if _, err := netip.ParsePrefix(f); err != nil {
			if _, err := netip.ParseAddr(f); err != nil {
				add("TRUSTED_PROXIES: %q is not an address or CIDR; use e.g. 10.0.0.0/8,192.0.2.7, or heroku on Heroku", f)
			}
		}
	}
	if (c.AdminUser == "") != (c.AdminPassword == "") {
		add("ADMIN_USER and ADMIN_PASSWORD: set both to mount /admin/queues, or neither")
	} else if c.AdminPassword != "" && len(c.AdminPassword) < 12 {
		add("ADMIN_PASSWORD: use at least 12 characters")
	}
	if c.WorkerMemoryMB < 128 {
		add("WORKER_MEMORY_MB=%d: use at least 128", c.WorkerMemoryMB)
	}
	if c.OptimizeTimeout <= 0 {
		add("OPTIMIZE_TIMEOUT=%s: use a positive duration, e.g. 20s", c.OptimizeTimeout)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		add("LOG_LEVEL=%q: use debug, info, warn or error", c.LogLevel)
	}
	if c.Dev() {
		return errors.Join(errs...)
	}
	// Production needs real services and an explicit access decision.
	if c.DatabaseURL == "" {
		add("DATABASE_URL is not set: give the Postgres URL (Heroku sets it with the heroku-postgresql add-on)")
	}
	if c.RedisURL == "" {
		add("REDIS_URL is not set: give the Redis URL (Heroku sets it with the heroku-redis add-on)")
	}
	if c.S3Bucket == "" {
		add("S3_BUCKET is not set: name the bucket uploads go to")
	}
	if c.AppURL == "" {
		add("APP_URL is not set: give the app's public origin, e.g. https://uploads.example.com (S3 CORS and redirects need it)")
	}
	// Every production deployment has browser sessions: signed-in people
	// (sign-in links), and anonymous visitors when ALLOW_ANONYMOUS=true.
	if len(c.SessionSecret) < 32 {
		add("SESSION_SECRET must be at least 32 characters in production: it signs the session cookies of signed-in people (try: openssl rand -hex 32)")
	}
	if len(c.APITokens) == 0 && !c.AllowAnonymous {
		add("API_TOKENS is empty and ALLOW_ANONYMOUS is not true: set tokens, or ALLOW_ANONYMOUS=true to let anyone upload")
	}
	return errors.Join(errs...)
}

var (
	cfIDPattern   = regexp.MustCompile(`^[A-Z0-9]+$`)
	snsARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$`)
	cfARNPattern  = regexp.MustCompile(`^arn:aws[a-z-]*:cloudfront::[0-9]{12}:distribution/[A-Z0-9]+$`)
)

func hasAnyPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func intVar(getenv func(string) string, name string, def int, errs *[]error) int {
	v := getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		*errs = append(*errs, fmt.Errorf("%s=%q: not a whole number (default %d)", name, v, def))
		return def
	}
	return n
}

func boolVar(getenv func(string) string, name string, def bool, errs *[]error) bool {
	v := getenv(name)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		*errs = append(*errs, fmt.Errorf("%s=%q: use true or false", name, v))
		return def
	}
	return b
}

func durationVar(getenv func(string) string, name string, def time.Duration, errs *[]error) time.Duration {
	v := getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil {
		*errs = append(*errs, fmt.Errorf("%s=%q: not a duration; use a value such as 10m or 90s (default %s)", name, v, def))
		return def
	}
	return d
}
