package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"uploader/internal/devstack"
	"uploader/internal/s3store"
	"uploader/internal/testenv"
	"uploader/internal/upload"
)

const bucket = "uploads"

// bench holds what the three measurements share.
type bench struct {
	dir      string // temporary, absolute
	bin      string // the uploader binary built for this run
	wrk      string // path of wrk, "" to use the in-Go load generator
	s3       *devstack.S3
	objects  *s3store.Store
	redis    *sharedRedis
	pgBase   string
	schemas  []*pgSchema
	profiles upload.Profiles
	log      *slog.Logger
	stderr   io.Writer

	rounds   int
	duration time.Duration
	conns    int
	p5Tasks  int
	p6Jobs   int
}

// row is one line of the table. Rows that are reported but have no target
// (memory, Redis load) are not judged.
type row struct {
	name, target, ours, ref string
	ratio                   float64
	pass, judged            bool
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 2 && args[0] == "hello" {
		return helloServer(ctx, args[1])
	}
	fs := flag.NewFlagSet("servicebench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	b := &bench{stderr: stderr, profiles: upload.DefaultProfiles(50_000_000)}
	fs.IntVar(&b.rounds, "rounds", 2, "P4: interleaved rounds (hello, SQLite, hello, Postgres)")
	fs.DurationVar(&b.duration, "duration", 5*time.Second, "P4: length of each load run")
	fs.IntVar(&b.conns, "connections", 50, "P4: concurrent connections")
	fs.IntVar(&b.p5Tasks, "p5-tasks", 200, "P5: tasks per pickup measurement")
	fs.IntVar(&b.p6Jobs, "p6-jobs", 30, "P6: image jobs per round")
	only := fs.String("only", "P4,P5,P6", "the measurements to run, comma-separated")
	noWrk := fs.Bool("no-wrk", false, "P4: use the in-Go load generator even when wrk is installed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b.log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if !*noWrk {
		b.wrk, _ = exec.LookPath("wrk")
	}
	b.pgBase = getenv("TEST_DATABASE_URL")
	if b.pgBase == "" {
		b.pgBase = testenv.DefaultPostgresURL
	}
	started, load0 := time.Now(), loadAvg()

	dir, err := tempDir()
	if err != nil {
		return err
	}
	b.dir = dir
	defer os.RemoveAll(dir)
	b.logf("building ./cmd/uploader")
	if b.bin, err = buildUploader(ctx, dir, stderr); err != nil {
		return err
	}
	defer b.dropSchemas()
	if b.redis, err = lockRedis(ctx, testenv.DefaultRedisAddr); err != nil {
		return err
	}
	defer b.redis.release()
	if err := b.startS3(ctx); err != nil {
		return err
	}
	defer b.s3.Stop()

	var rows []row
	var errs []error
	for _, m := range []struct {
		name string
		f    func(context.Context) ([]row, error)
	}{{"P4", b.p4}, {"P5", b.p5}, {"P6", b.p6}} {
		if !strings.Contains(*only, m.name) {
			continue
		}
		rs, err := m.f(ctx)
		rows = append(rows, rs...)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m.name, err))
			b.logf("%s failed: %v", m.name, err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	printTable(stdout, rows)
	fmt.Fprintf(stdout, "\n%s, %d cores (load average %s at the start, %s at the end); %s; the whole run took %s.\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), numCPU(), load0, loadAvg(), b.loadGen(), time.Since(started).Round(time.Second))
	return errors.Join(errs...)
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.stderr, "servicebench: "+format+"\n", args...)
}

// startS3 runs the embedded S3 gateway in this process, for the web role
// (which never calls it while signing) and the workers.
func (b *bench) startS3(ctx context.Context) error {
	addr, err := devstack.FreeAddr()
	if err != nil {
		return err
	}
	if b.s3, err = devstack.StartS3(filepath.Join(b.dir, "s3"), addr); err != nil {
		return err
	}
	b.objects, err = s3store.New(ctx, s3store.Config{Bucket: bucket, Region: b.s3.Region, Endpoint: b.s3.Endpoint,
		AccessKey: b.s3.AccessKey, SecretKey: b.s3.SecretKey})
	if err != nil {
		return err
	}
	return b.objects.EnsureBucket(ctx)
}

// schema makes a Postgres schema that is dropped when the run ends.
func (b *bench) schema(ctx context.Context, prefix string) (*pgSchema, error) {
	s, err := createSchema(ctx, b.pgBase, prefix)
	if err != nil {
		return nil, err
	}
	b.schemas = append(b.schemas, s)
	return s, nil
}

func (b *bench) dropSchemas() {
	for _, s := range b.schemas {
		if err := s.drop(); err != nil {
			b.logf("drop schema %s: %v", s.name, err)
		}
	}
}

func printTable(w io.Writer, rows []row) {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	fmt.Fprintln(tw, "| measure\t| target\t| ours\t| reference (same run)\t| ratio\t| result\t|")
	fmt.Fprintln(tw, "|---\t|---\t|---\t|---\t|---:\t|---\t|")
	for _, r := range rows {
		result := "report"
		if r.judged {
			result = "MISS"
			if r.pass {
				result = "PASS"
			}
		}
		ratio := "—"
		if r.ratio > 0 {
			ratio = fmt.Sprintf("%.2f", r.ratio)
		}
		fmt.Fprintf(tw, "| %s\t| %s\t| %s\t| %s\t| %s\t| %s\t|\n", r.name, r.target, r.ours, r.ref, ratio, result)
	}
	tw.Flush()
}
