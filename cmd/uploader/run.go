package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/joho/godotenv"

	"uploader/internal/config"
)

const usage = `usage: uploader <command>

commands:
  web       serve pages and the JSON API
  worker    process images from the queue
  dev       web and worker together on embedded S3, Redis and SQLite
  migrate   apply database migrations
  setup     make the S3 bucket ready (CORS, lifecycle, checks); print the IAM
            and CloudFront policies (--dry-run changes nothing; --help for more)
  version   print build information

Configuration comes from the environment and from .env (see .env.example).`

// run is the whole program; main only supplies the process's context,
// arguments, environment and output, so tests can call it directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return errors.New("no command given")
	}
	cmd := args[0]
	if cmd == "version" {
		return version(stdout)
	}
	if cmd == "help" || cmd == "-h" || cmd == "--help" {
		fmt.Fprintln(stdout, usage)
		return nil
	}
	switch cmd {
	case "web", "worker", "dev", "migrate", "setup":
	default:
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
	getenv = withDotenv(getenv)
	if cmd == "dev" && getenv("APP_ENV") == "" {
		inner := getenv
		getenv = func(k string) string {
			if k == "APP_ENV" {
				return "development"
			}
			return inner(k)
		}
	}
	cfg, err := config.Load(getenv)
	if err == nil && cmd != "setup" {
		// setup needs only the bucket and APP_URL, and checks them itself.
		err = cfg.Validate()
	}
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	log := newLogger(cfg, stderr)
	switch cmd {
	case "web":
		return runWeb(ctx, cfg, log, stdout)
	case "worker":
		return runWorker(ctx, cfg, log)
	case "dev":
		return runDev(ctx, cfg, log, stdout)
	case "setup":
		return runSetup(ctx, cfg, log, stdout, args[1:])
	default: // "migrate"
		return runMigrate(ctx, cfg, log)
	}
}

// withDotenv lets values in ./.env fill variables the environment leaves
// empty; the real environment always wins, as with godotenv.Load.
func withDotenv(getenv func(string) string) func(string) string {
	file := getenv("ENV_FILE")
	if file == "" {
		file = ".env"
	}
	vals, err := godotenv.Read(file)
	if err != nil {
		return getenv
	}
	return func(k string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return vals[k]
	}
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Dev() {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func version(w io.Writer) error {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Fprintln(w, "uploader (no build info)")
		return nil
	}
	rev, when := "unknown", ""
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		}
	}
	host, _ := os.Hostname()
	fmt.Fprintf(w, "uploader %s %s (%s, %s) on %s\n", info.Main.Version, rev, when, info.GoVersion, host)
	return nil
}
