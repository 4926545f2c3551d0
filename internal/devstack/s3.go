// Package devstack runs the embedded parts that `uploader dev` and the tests
// use in place of production services: the versitygw S3 gateway, miniredis
// and a free-port picker.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	versitybackend "github.com/versity/versitygw/backend"
	"github.com/versity/versitygw/backend/meta"
	"github.com/versity/versitygw/backend/posix"
	"github.com/versity/versitygw/embedgw"
)

// S3 is a running embedded S3 gateway.
type S3 struct {
	Endpoint  string // http://host:port
	Region    string
	AccessKey string
	SecretKey string

	cancel context.CancelFunc
	done   chan error
	wd     string // working directory before the gateway moved it
}

// Credentials of the embedded gateway's root user. They only ever guard a
// gateway bound to loopback on a developer's machine.
const (
	DevAccessKey = "uploader-dev"
	DevSecretKey = "uploader-dev-secret-key"
)

var s3Mu sync.Mutex

// S3Options are the optional settings of the embedded gateway.
type S3Options struct {
	// EventWebhookURL receives an S3 event record (JSON, as S3 event
	// notifications send) for every object created: PutObject, a browser's
	// POST, CompleteMultipartUpload. See eventBackend for why these come
	// from a wrapper of the backend rather than versitygw's own sender.
	EventWebhookURL string
}

// StartS3 starts the versitygw gateway on addr, storing objects under dir.
// Only one gateway can run per process (a limit of versitygw); a second
// call while one runs fails. Stop ends it.
func StartS3(dir, addr string) (*S3, error) { return StartS3With(dir, addr, S3Options{}) }

// StartS3With is StartS3 with options.
func StartS3With(dir, addr string, o S3Options) (*S3, error) {
	if !s3Mu.TryLock() {
		return nil, errors.New("devstack: an embedded S3 gateway already runs in this process")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		s3Mu.Unlock()
		return nil, err
	}
	dir, _ = filepath.Abs(dir)
	// The posix backend chdirs into its root and works with relative
	// paths from then on; Stop moves the process back.
	wd, _ := os.Getwd()
	be, err := backend(dir)
	if err != nil {
		s3Mu.Unlock()
		return nil, fmt.Errorf("devstack: s3 backend: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		s3Mu.Unlock()
		return nil, fmt.Errorf("devstack: S3 address %s is not free (set DEV_S3_ADDR): %w", addr, err)
	}
	ln.Close()

	ctx, cancel := context.WithCancel(context.Background())
	s := &S3{
		Endpoint:  "http://" + addr,
		Region:    "us-east-1",
		AccessKey: DevAccessKey,
		SecretKey: DevSecretKey,
		cancel:    cancel,
		done:      make(chan error, 1),
		wd:        wd,
	}
	var gwBackend versitybackend.Backend = be
	if o.EventWebhookURL != "" {
		gwBackend = &eventBackend{Backend: be, url: o.EventWebhookURL, region: s.Region, client: &http.Client{Timeout: 5 * time.Second}}
	}
	go func() {
		s.done <- embedgw.RunVersityGW(ctx, gwBackend, &embedgw.Config{
			RootUserAccess:    DevAccessKey,
			RootUserSecret:    DevSecretKey,
			Region:            s.Region,
			Ports:             []string{addr},
			MaxConnections:    1000,
			MaxRequests:       1000,
			MultipartMaxParts: 10000,
			Quiet:             true,
			// Without keep-alive the gateway stops at once; with it, its
			// shutdown waits for clients' idle connections to time out.
		})
	}()
	if err := waitHTTP(s.Endpoint, s.done); err != nil {
		cancel()
		s3Mu.Unlock()
		return nil, err
	}
	return s, nil
}

// Stop shuts the gateway down and waits for it.
func (s *S3) Stop() {
	s.cancel()
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
	}
	if s.wd != "" {
		os.Chdir(s.wd)
	}
	s3Mu.Unlock()
}

func backend(dir string) (*posix.Posix, error) {
	// Prefer extended attributes; fall back to sidecar files on filesystems
	// without them (tmpfs in some containers, for example).
	// CopyObjectThreshold is 0 (no copies at all) unless set; 5 GiB is
	// the S3 limit versitygw's own command line uses.
	opts := posix.PosixOpts{CopyObjectThreshold: 5 << 30}
	if be, err := posix.New(dir, meta.XattrMeta{}, opts); err == nil {
		if xattrWorks(dir) {
			return be, nil
		}
		be.Shutdown()
	}
	side := filepath.Join(filepath.Dir(dir), filepath.Base(dir)+".meta")
	if err := os.MkdirAll(side, 0o755); err != nil {
		return nil, err
	}
	sc, err := meta.NewSideCar(side)
	if err != nil {
		return nil, err
	}
	opts.SideCarDir = side
	return posix.New(dir, sc, opts)
}

func waitHTTP(endpoint string, done <-chan error) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			return fmt.Errorf("devstack: S3 gateway stopped at start: %w", err)
		default:
		}
		resp, err := http.Get(endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("devstack: S3 gateway at %s did not answer within 10s", endpoint)
}

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
