package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"uploader/internal/config"
	"uploader/internal/devstack"
	"uploader/internal/s3store"
	"uploader/internal/testenv"
	"uploader/internal/upload"
)

// foremanPkgDir is this package's directory, read before any test runs:
// versitygw's posix backend changes the working directory of the process.
var foremanPkgDir = func() string {
	d, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return d
}()

// TestForemanProcfile runs the repository's Procfile the way Heroku runs
// its dynos: `foreman start` (Debian's ruby-foreman) starts the web and
// worker processes of the built binary against real Redis and an S3
// gateway, `uploader setup` and `uploader migrate` having prepared the
// bucket and the database. One photo goes through the JSON API; then
// SIGTERM must stop everything within Heroku's 30 s.
//
// It starts its own embedded S3 gateway (one per process), so it must not
// run in parallel with the other tests of this package.
func TestForemanProcfile(t *testing.T) {
	foreman, err := exec.LookPath("foreman")
	testenv.Require(t, "foreman (Debian package ruby-foreman)", err)
	redisAddr, redisDB := testenv.RedisAddr(t)
	dir := t.TempDir()

	bin := filepath.Join(dir, "bin", "uploader")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = foremanPkgDir
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	s3addr, err := devstack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	gw, err := devstack.StartS3(filepath.Join(dir, "s3"), s3addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gw.Stop)

	webAddr, err := devstack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	port := webAddr[strings.LastIndex(webAddr, ":")+1:]
	appURL := "http://127.0.0.1:" + port
	env := map[string]string{
		"APP_ENV":               "production",
		"APP_URL":               appURL,
		"PORT":                  port,
		"DATABASE_URL":          "sqlite:" + filepath.Join(dir, "app.db"),
		"REDIS_URL":             fmt.Sprintf("redis://%s/%d", redisAddr, redisDB),
		"S3_ENDPOINT":           gw.Endpoint,
		"S3_BUCKET":             "foreman-uploads",
		"S3_REGION":             gw.Region,
		"AWS_ACCESS_KEY_ID":     gw.AccessKey,
		"AWS_SECRET_ACCESS_KEY": gw.SecretKey,
		"ALLOW_ANONYMOUS":       "true",
		"SESSION_SECRET":        strings.Repeat("0123456789abcdef", 4),
		"ENV_FILE":              "/nonexistent",
		"LOG_LEVEL":             "info",
	}

	// The bucket, as `uploader setup` leaves it (in-process: the binary's
	// dispatch is the lead's to add).
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	var setupOut bytes.Buffer
	if err := runSetup(context.Background(), cfg, slog.New(slog.DiscardHandler), &setupOut, nil); err != nil {
		t.Fatalf("setup: %v\n%s", err, setupOut.String())
	}

	// A .env for foreman, in a directory of its own so no other .env is read.
	var dotenv strings.Builder
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&dotenv, "%s=%s\n", k, env[k])
	}
	envFile := filepath.Join(dir, ".env")
	if err := os.WriteFile(envFile, []byte(dotenv.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Dir(bin) + string(os.PathListSeparator) + os.Getenv("PATH")
	procEnv := append(os.Environ(), "PATH="+path)
	for _, k := range keys {
		procEnv = append(procEnv, k+"="+env[k])
	}

	// The release phase.
	migrate := exec.Command(bin, "migrate")
	migrate.Env = procEnv
	if out, err := migrate.CombinedOutput(); err != nil {
		t.Fatalf("uploader migrate: %v\n%s", err, out)
	}

	procfile := filepath.Join(foremanPkgDir, "..", "..", "Procfile")
	var out syncBuffer
	// -m leaves out release (it would exit, and foreman stops all when one
	// process exits); -p pins web's PORT; -t gives processes Heroku's 30 s.
	fm := exec.Command(foreman, "start", "-f", procfile, "-e", envFile,
		"-m", "web=1,worker=1", "-p", port, "-t", "30", "--no-color")
	fm.Env = procEnv
	fm.Stdout, fm.Stderr = &out, &out
	fm.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := fm.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var exitErr error
	go func() { exitErr = fm.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			syscall.Kill(-fm.Process.Pid, syscall.SIGKILL) // only foreman's own process group
			<-exited
		}
		if t.Failed() {
			t.Logf("foreman output:\n%s", out.String())
		}
	})

	a := &app{base: appURL, stop: func() {}}
	jar, _ := cookiejar.New(nil)
	a.http = &http.Client{Jar: jar, Timeout: 30 * time.Second}
	waitHealthy(t, a.base, exited, &out)

	s := a.uploadPhoto(t, photo(t, 1200, 900), "photo")
	if s.Status != "ready" {
		t.Fatalf("upload %s: status %s, error %+v", s.ID, s.Status, s.Error)
	}
	if len(s.Variants) == 0 {
		t.Fatal("ready without variants")
	}
	resp, err := http.Get(s.Variants[0].URL)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %s", s.Variants[0].URL, resp.Status)
	}
	for _, who := range []string{"web.1", "worker.1"} {
		if !strings.Contains(out.String(), who+" ") {
			t.Errorf("foreman output has no lines from %s", who)
		}
	}

	// Heroku sends SIGTERM, then SIGKILL 30 s later.
	start := time.Now()
	if err := syscall.Kill(fm.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		t.Logf("foreman stopped %s after SIGTERM (%v)", time.Since(start).Round(time.Millisecond), exitErr)
		var exit *exec.ExitError
		if exitErr != nil && !errors.As(exitErr, &exit) {
			t.Errorf("foreman: %v", exitErr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("foreman still running 30 s after SIGTERM")
	}
	log := out.String()
	for _, want := range []string{"shutting down: draining HTTP requests", "worker stopping"} {
		if !strings.Contains(log, want) {
			t.Errorf("no %q in the output: SIGTERM did not reach the process gracefully", want)
		}
	}
	if strings.Contains(log, "SIGKILL") {
		t.Errorf("foreman had to SIGKILL a process:\n%s", log)
	}
}

// waitHealthy polls /healthz until it answers 200.
func waitHealthy(t *testing.T, base string, exited <-chan struct{}, out *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("foreman exited at start\n%s", out.String())
		default:
		}
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("web not healthy within 60s\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestSetupCommand runs `uploader setup` (runSetup) against an embedded
// S3 gateway of its own: a dry run changes nothing, a real run lets
// browsers on APP_URL POST to the bucket, a second run is all "up to
// date". Not parallel: one gateway per process.
func TestSetupCommand(t *testing.T) {
	ctx := context.Background()
	s3addr, err := devstack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	gw, err := devstack.StartS3(t.TempDir(), s3addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gw.Stop)
	env := map[string]string{
		"APP_URL": "https://uploads.example.com", "S3_ENDPOINT": gw.Endpoint, "S3_BUCKET": "setup-cmd",
		"S3_REGION": gw.Region, "AWS_ACCESS_KEY_ID": gw.AccessKey, "AWS_SECRET_ACCESS_KEY": gw.SecretKey,
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	setupRun := func(args ...string) (string, error) {
		t.Helper()
		var out bytes.Buffer
		err := runSetup(ctx, cfg, log, &out, args)
		t.Logf("uploader setup %s:\n%s", strings.Join(args, " "), out.String())
		return out.String(), err
	}
	preflightAllowed := func(origin string) bool {
		t.Helper()
		req, _ := http.NewRequest(http.MethodOptions, gw.Endpoint+"/setup-cmd", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK && resp.Header.Get("Access-Control-Allow-Origin") == origin
	}

	out, err := setupRun("--dry-run")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "would create") || !strings.Contains(out, "dry run: nothing was changed") {
		t.Errorf("dry run does not say what it would do")
	}
	store, err := s3store.New(ctx, s3store.Config{Bucket: "setup-cmd", Region: gw.Region, Endpoint: gw.Endpoint, AccessKey: gw.AccessKey, SecretKey: gw.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Ping(ctx); upload.ErrorCode(err) != upload.ENOTFOUND {
		t.Errorf("after the dry run, the bucket exists (Ping: %v)", err)
	}

	out, err = setupRun()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Bucket:", "CORS:", "updated", "s3:ListBucket", "arn:aws:s3:::setup-cmd/*", "Summary:"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if !preflightAllowed("https://uploads.example.com") {
		t.Error("after setup, a preflight from APP_URL is refused")
	}
	if preflightAllowed("https://elsewhere.example") {
		t.Error("after setup, a preflight from another origin is allowed")
	}

	out, err = setupRun()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "CORS:                up to date") || strings.Contains(out, "updated") {
		t.Errorf("second run changed something")
	}

	// A distribution ARN prints the CloudFront bucket policy.
	out, _ = setupRun("--distribution-arn", "arn:aws:cloudfront::111122223333:distribution/EDFDVBD6EXAMPLE")
	if !strings.Contains(out, `"AWS:SourceArn": "arn:aws:cloudfront::111122223333:distribution/EDFDVBD6EXAMPLE"`) ||
		!strings.Contains(out, "arn:aws:s3:::setup-cmd/variants/*") {
		t.Errorf("the CloudFront bucket policy is not printed")
	}

	// --iam-policy prints the JSON alone, ready for aws iam put-user-policy.
	out, err = setupRun("--iam-policy")
	var doc struct {
		Statement []struct{ Action, Resource []string }
	}
	if err != nil || json.Unmarshal([]byte(out), &doc) != nil || len(doc.Statement) != 2 {
		t.Errorf("--iam-policy: %v; want a bare JSON policy with 2 statements", err)
	}
	out, err = setupRun("--bucket-policy", "--distribution-arn", "arn:aws:cloudfront::111122223333:distribution/EDFDVBD6EXAMPLE")
	if err != nil || json.Unmarshal([]byte(out), &doc) != nil || len(doc.Statement) != 1 || doc.Statement[0].Resource[0] != "arn:aws:s3:::setup-cmd/variants/*" {
		t.Errorf("--bucket-policy: %v; want a bare JSON policy for variants/*", err)
	}
	if _, err := setupRun("--bucket-policy"); err == nil {
		t.Error("--bucket-policy without an ARN succeeded")
	}

	if _, err := setupRun("extra"); err == nil {
		t.Error("setup with a stray argument succeeded")
	}
	if _, err := setupRun("--help"); err != nil {
		t.Errorf("setup --help: %v", err)
	}
	bad := cfg
	bad.S3Bucket, bad.AppURL = "", ""
	err = runSetup(ctx, bad, log, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "S3_BUCKET") || !strings.Contains(err.Error(), "APP_URL") {
		t.Errorf("setup without S3_BUCKET and APP_URL: %v, want both named", err)
	}
}
