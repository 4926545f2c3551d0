package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"

	"uploader/internal/cdn"
	"uploader/internal/config"
	"uploader/internal/devstack"
	"uploader/internal/imageproc"
	"uploader/internal/jobs"
	"uploader/internal/s3store"
	"uploader/internal/sqlstore"
	"uploader/internal/upload"
	"uploader/internal/web"
)

// closers runs shutdown steps in reverse order of construction.
type closers []func()

func (c *closers) add(f func()) { *c = append(*c, f) }

func (c *closers) close() {
	for i := len(*c) - 1; i >= 0; i-- {
		(*c)[i]()
	}
}

// parts are the dependencies both roles share.
type parts struct {
	db       *sqlstore.DB
	objects  *s3store.Store
	redis    asynq.RedisConnOpt
	enqueue  *jobs.Enqueuer // one Redis client for queuing, shared by web and worker in dev
	status   *jobs.StatusFeed
	profiles upload.Profiles

	eventSecret string // the embedded gateway's webhook secret (dev only)
}

func loadProfiles(cfg config.Config) (upload.Profiles, error) {
	ps := upload.DefaultProfiles(cfg.MaxPixels)
	if cfg.ProfilesFile == "" {
		return ps, nil
	}
	data, err := os.ReadFile(cfg.ProfilesFile)
	if err != nil {
		return nil, fmt.Errorf("PROFILES_FILE: %w", err)
	}
	ps, err = upload.ParseProfiles(ps, data)
	if err != nil {
		return nil, fmt.Errorf("PROFILES_FILE %s: %w", cfg.ProfilesFile, err)
	}
	return ps, nil
}

// openParts connects to the database, the bucket and Redis, in that order.
func openParts(ctx context.Context, cfg config.Config, log *slog.Logger, cl *closers) (*parts, error) {
	profiles, err := loadProfiles(cfg)
	if err != nil {
		return nil, err
	}
	db, err := sqlstore.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	cl.add(func() { db.Close() })
	objects, err := s3store.New(ctx, s3store.Config{
		Bucket: cfg.S3Bucket, Region: cfg.S3Region, Endpoint: cfg.S3Endpoint,
		AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey, SessionToken: cfg.S3SessionToken,
	})
	if err != nil {
		return nil, fmt.Errorf("S3: %w", err)
	}
	redis, err := jobs.RedisOpt(cfg.RedisURL, cfg.RedisInsecureSkipVerify)
	if err != nil {
		return nil, err
	}
	enq := jobs.NewEnqueuer(redis)
	cl.add(func() { enq.Close() })
	status := jobs.NewStatusFeed(redis, log)
	cl.add(func() { status.Close() })
	log.Info("connected", "database", db.Dialect(), "bucket", objects.Bucket(), "s3_endpoint", or(cfg.S3Endpoint, "AWS"))
	return &parts{db: db, objects: objects, redis: redis, enqueue: enq, status: status, profiles: profiles}, nil
}

func runMigrate(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	db, err := sqlstore.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	log.Info("migrations applied", "database", db.Dialect())
	return nil
}

func runWeb(ctx context.Context, cfg config.Config, log *slog.Logger, stdout io.Writer) error {
	var cl closers
	defer cl.close()
	p, err := openParts(ctx, cfg, log, &cl)
	if err != nil {
		return err
	}
	srv, err := newWebServer(ctx, cfg, p, log, &cl)
	if err != nil {
		return err
	}
	hs, err := startHTTP(cfg)
	if err != nil {
		return err
	}
	hs.open(srv)
	return hs.serve(ctx, cfg, log, stdout)
}

func runWorker(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	var cl closers
	defer cl.close()
	p, err := openParts(ctx, cfg, log, &cl)
	if err != nil {
		return err
	}
	if err := startWorker(ctx, cfg, p, log, &cl); err != nil {
		return err
	}
	<-ctx.Done()
	log.Info("worker stopping: unfinished tasks go back to the queue")
	return nil
}

// runDev runs web and worker in one process, filling S3, Redis and the
// database with embedded parts where their variables are unset.
func runDev(ctx context.Context, cfg config.Config, log *slog.Logger, stdout io.Writer) error {
	start := time.Now()
	var cl closers
	defer cl.close()
	// versitygw changes the process's working directory into its data
	// folder, so every path must be absolute before it starts.
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("DATA_DIR: %w", err)
	}
	cfg.DataDir = dataDir
	if cfg.ProfilesFile != "" {
		if cfg.ProfilesFile, err = filepath.Abs(cfg.ProfilesFile); err != nil {
			return fmt.Errorf("PROFILES_FILE: %w", err)
		}
	}
	if strings.HasPrefix(cfg.DatabaseURL, "sqlite:") && !strings.HasPrefix(cfg.DatabaseURL, "sqlite://") {
		path, err := filepath.Abs(strings.TrimPrefix(cfg.DatabaseURL, "sqlite:"))
		if err != nil {
			return fmt.Errorf("DATABASE_URL: %w", err)
		}
		cfg.DatabaseURL = "sqlite:" + path
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("DATA_DIR: %w", err)
	}
	if cfg.AppURL == "" {
		cfg.AppURL = "http://localhost:" + strconv.Itoa(cfg.Port)
	}
	if cfg.BindAddr == "" {
		// A developer's machine: nobody else on the network needs to reach
		// the open (token-less) app or its admin surface.
		cfg.BindAddr = "127.0.0.1"
	}
	// The web port listens (answering 503) before the gateway starts: the
	// gateway posts its bucket events there.
	hs, err := startHTTP(cfg)
	if err != nil {
		return err
	}
	cl.add(hs.close)
	var eventSecret string // per run: only this run's gateway knows it
	if cfg.S3Endpoint == "" && cfg.S3Bucket == "" {
		eventSecret = randomHex(32)
		host := cfg.BindAddr
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			host = "127.0.0.1"
		}
		var opts devstack.S3Options
		if cfg.DevS3Events {
			opts.EventWebhookURL = "http://" + net.JoinHostPort(host, strconv.Itoa(cfg.Port)) + "/api/s3-events?secret=" + eventSecret
		}
		s3, err := devstack.StartS3With(filepath.Join(cfg.DataDir, "s3"), cfg.DevS3Addr, opts)
		if err != nil {
			return err
		}
		cl.add(s3.Stop)
		cfg.S3Endpoint, cfg.S3Bucket, cfg.S3Region = s3.Endpoint, "uploads", s3.Region
		cfg.S3AccessKey, cfg.S3SecretKey, cfg.S3SessionToken = s3.AccessKey, s3.SecretKey, ""
		// The secret stays out of the log (logs travel further than the
		// machine); the README says where to find it.
		log.Info("embedded S3 gateway (versitygw)", "endpoint", s3.Endpoint, "bucket", cfg.S3Bucket,
			"access_key", s3.AccessKey, "dir", filepath.Join(cfg.DataDir, "s3"))
	}
	if cfg.RedisURL == "" {
		m, err := devstack.StartRedis("127.0.0.1:0")
		if err != nil {
			return err
		}
		cl.add(m.Close)
		cfg.RedisURL = "redis://" + m.Addr()
		log.Warn("embedded Redis (miniredis): queued jobs do not survive a restart; set REDIS_URL to keep them", "addr", m.Addr())
	}
	if cfg.DatabaseURL == "" {
		cfg.DatabaseURL = "sqlite:" + filepath.Join(cfg.DataDir, "uploader.db")
		log.Info("embedded database (SQLite)", "path", filepath.Join(cfg.DataDir, "uploader.db"))
	}
	if cfg.SessionSecret == "" {
		secret, err := devSecret(cfg.DataDir)
		if err != nil {
			return err
		}
		cfg.SessionSecret = secret
	}
	p, err := openParts(ctx, cfg, log, &cl)
	if err != nil {
		return err
	}
	p.eventSecret = eventSecret
	if err := p.db.Migrate(ctx); err != nil {
		return err
	}
	if err := p.objects.EnsureBucket(ctx); err != nil {
		return err
	}
	if err := p.objects.PutCORS(ctx, append(devOrigins(cfg.AppURL), cfg.AllowedOrigins...)); err != nil {
		return err
	}
	if err := startWorker(ctx, cfg, p, log, &cl); err != nil {
		return err
	}
	srv, err := newWebServer(ctx, cfg, p, log, &cl)
	if err != nil {
		return err
	}
	hs.open(srv)
	log.Info("ready", "startup_ms", time.Since(start).Milliseconds())
	return hs.serve(ctx, cfg, log, stdout)
}

// devOrigins allows both spellings of the loopback origin, since a
// developer may open either.
func devOrigins(appURL string) []string {
	origins := []string{appURL}
	if u, err := url.Parse(appURL); err == nil {
		switch u.Hostname() {
		case "localhost":
			origins = append(origins, u.Scheme+"://127.0.0.1:"+u.Port())
		case "127.0.0.1":
			origins = append(origins, u.Scheme+"://localhost:"+u.Port())
		}
	}
	return origins
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// devSecret keeps a random session secret in DATA_DIR, so sessions survive
// restarts of `uploader dev`.
func devSecret(dir string) (string, error) {
	path := filepath.Join(dir, "session.key")
	if b, err := os.ReadFile(path); err == nil && len(b) >= 32 {
		return strings.TrimSpace(string(b)), nil
	}
	var b [32]byte
	rand.Read(b[:])
	s := hex.EncodeToString(b[:])
	return s, os.WriteFile(path, []byte(s), 0o600)
}

func newWebServer(ctx context.Context, cfg config.Config, p *parts, log *slog.Logger, cl *closers) (*web.Server, error) {
	if !cfg.Dev() && len(cfg.SessionSecret) < 32 {
		return nil, errors.New("SESSION_SECRET must be at least 32 characters for the web role: it signs the no-JavaScript upload redirect and anonymous sessions (try: openssl rand -hex 32)")
	}
	cdnBase, serveCDN := cfg.CDNBaseURL, false
	if cdnBase == "" {
		cdnBase, serveCDN = cfg.AppURL+"/cdn", true
	}
	urls := cdn.New(cdnBase)
	if cfg.CloudFrontKeyPairID != "" {
		signer, err := cdn.NewSigner(cfg.CloudFrontKeyPairID, []byte(cfg.CloudFrontPrivateKey))
		if err != nil {
			return nil, fmt.Errorf("CLOUDFRONT_PRIVATE_KEY: %w", err)
		}
		urls = urls.WithSigner(signer, cfg.CloudFrontURLExpires)
	}
	for _, prof := range p.profiles {
		if prof.Private && cfg.CloudFrontKeyPairID == "" && !serveCDN {
			return nil, fmt.Errorf("profile %q is private: set CLOUDFRONT_KEY_PAIR_ID and CLOUDFRONT_PRIVATE_KEY", prof.Name)
		}
	}
	invalidator, err := cdn.NewInvalidator(ctx, cdn.InvalidatorConfig{
		DistributionID: cfg.CloudFrontDistributionID, AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey,
		SessionToken: cfg.S3SessionToken,
	})
	if err != nil {
		return nil, fmt.Errorf("CLOUDFRONT_DISTRIBUTION_ID: %w", err)
	}
	var admin http.Handler
	if cfg.AdminUser != "" {
		mon := asynqmon.New(asynqmon.Options{RootPath: "/admin/queues", RedisConnOpt: p.redis})
		cl.add(func() { mon.Close() })
		admin = mon
	}
	s3Origin := "https://" + p.objects.Bucket() + ".s3." + cfg.S3Region + ".amazonaws.com"
	if cfg.S3Endpoint != "" {
		if u, err := url.Parse(cfg.S3Endpoint); err == nil {
			s3Origin = u.Scheme + "://" + u.Host
		}
	}
	go p.status.Run(ctx) // wakes event streams when the worker changes a row
	return web.New(web.Deps{
		Config: web.Config{
			AppURL: cfg.AppURL, APITokens: cfg.APITokens, AllowAnonymous: cfg.AllowAnonymous,
			SessionSecret: []byte(cfg.SessionSecret), SecureCookies: strings.HasPrefix(cfg.AppURL, "https://"),
			UploadExpires: cfg.UploadExpires, S3Origin: s3Origin, ServeCDN: serveCDN,
			PresignPerMinute: cfg.PresignPerMinute, PresignPerMinuteIP: cfg.PresignPerMinuteIP,
			TrustedProxies: cfg.TrustedProxies, BodyTimeout: cfg.BodyTimeout,
			StreamsPerOwner: cfg.StreamsPerOwner, StreamsPerIP: cfg.StreamsPerIP,
			AdminUser: cfg.AdminUser, AdminPassword: cfg.AdminPassword,
			MultipartThreshold: cfg.MultipartThreshold, MultipartExpires: cfg.MultipartExpires,
			SNSTopicARN: cfg.SNSTopicARN, Bucket: p.objects.Bucket(), EventSecret: p.eventSecret,
			Production: !cfg.Dev(), SessionTTL: cfg.SessionTTL, AllowedOrigins: cfg.AllowedOrigins,
		},
		Store: jobs.Notifying(p.db, p.status), Objects: p.objects, Jobs: p.enqueue, Profiles: p.profiles, CDN: urls, CDNCache: invalidator,
		Health: map[string]web.Pinger{"database": p.db, "s3": p.objects, "redis": p.enqueue},
		Logger: log, Admin: admin, Status: p.status, Sessions: p.db,
	})
}

// startWorker starts the asynq server with the image handler and the
// reconciler, which runs once now and then every minute.
func startWorker(ctx context.Context, cfg config.Config, p *parts, log *slog.Logger, cl *closers) error {
	// Jobs are admitted by their estimated memory (jobs.MemoryBudget), so
	// WORKER_CONCURRENCY can stay as asked: a large file waits for room.
	concurrency := cfg.WorkerConcurrency
	memory := jobs.NewMemoryBudget(cfg.WorkerMemoryMB)
	// A soft limit makes the collector work harder before the dyno's
	// hard limit is reached.
	debug.SetMemoryLimit(int64(cfg.WorkerMemoryMB) << 20)

	// Every status change the worker makes is published, for the streams.
	store := jobs.Notifying(p.db, p.status)
	rec := &jobs.Reconciler{Store: store, Objects: p.objects, Enqueuer: p.enqueue, Profiles: p.profiles, Logger: log}

	srv := jobs.NewServer(p.redis, jobs.ServerConfig{
		Concurrency: concurrency, Profiles: p.profiles, Logger: log, PollInterval: cfg.WorkerPollInterval,
	})
	mux := asynq.NewServeMux()
	mux.Handle(jobs.TypeProcess, &jobs.ProcessHandler{
		Store: store, Objects: p.objects, Profiles: p.profiles,
		Optimizer: imageproc.NewOptimizer(cfg.OptimizeTimeout), Memory: memory, Logger: log,
	})
	mux.Handle(jobs.TypeReconcile, rec)
	if err := srv.Start(mux); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	cl.add(srv.Shutdown)

	sched, err := jobs.NewScheduler(p.redis, log)
	if err != nil {
		return err
	}
	if err := sched.Start(); err != nil {
		return fmt.Errorf("scheduler: %w", err)
	}
	cl.add(sched.Shutdown)
	go func() {
		if _, err := rec.Run(ctx); err != nil && ctx.Err() == nil {
			log.Warn("start-up reconcile", "err", err)
		}
	}()
	log.Info("worker started", "concurrency", concurrency, "queues", jobs.Queues(p.profiles))
	return nil
}

// httpServing is the HTTP server on PORT. It listens from startHTTP on,
// answering 503 until open gives it the app's handler.
type httpServing struct {
	srv  *http.Server
	h    atomic.Pointer[http.Handler]
	errc chan error
}

func startHTTP(cfg config.Config) (*httpServing, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.BindAddr, strconv.Itoa(cfg.Port)))
	if err != nil {
		return nil, fmt.Errorf("BIND_ADDR=%q PORT=%d: %w", cfg.BindAddr, cfg.Port, err)
	}
	hs := &httpServing{errc: make(chan error, 1)}
	hs.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if h := hs.h.Load(); h != nil {
				(*h).ServeHTTP(w, r)
				return
			}
			w.Header().Set("Retry-After", "1")
			http.Error(w, "starting", http.StatusServiceUnavailable)
		}),
		ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
	}
	go func() { hs.errc <- hs.srv.Serve(ln) }()
	return hs, nil
}

// open hands the requests to the app.
func (hs *httpServing) open(s *web.Server) {
	hs.srv.RegisterOnShutdown(s.Closing)
	h := s.Handler()
	hs.h.Store(&h)
}

// close stops at once: for start-up failures, and harmless after serve.
func (hs *httpServing) close() { hs.srv.Close() }

// serve serves until ctx ends, then drains requests for up to 20 s.
func (hs *httpServing) serve(ctx context.Context, cfg config.Config, log *slog.Logger, stdout io.Writer) error {
	srv := hs.srv
	fmt.Fprintf(stdout, "uploader is running: open %s\n", or(cfg.AppURL, "http://localhost:"+strconv.Itoa(cfg.Port)))
	select {
	case err := <-hs.errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: draining HTTP requests")
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		// Heroku kills at 30 s: give up on the stragglers, cleanly.
		log.Warn("requests still running after 20 s; closing them", "err", err)
		srv.Close()
	}
	return nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
