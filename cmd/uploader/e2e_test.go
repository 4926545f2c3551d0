package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	_ "image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	_ "golang.org/x/image/webp"

	"uploader/internal/devstack"
	"uploader/internal/testenv"
)

// app is one `uploader dev` started in-process by run, on free ports.
type app struct {
	stop  func()
	base  string
	token string
	http  *http.Client
	log   *syncBuffer // what the app wrote to stderr
}

// startApp runs `uploader dev` with env on top of embedded defaults and
// waits until /healthz answers. It stops the app when the test ends, so the
// next test can start its own embedded S3 gateway.
func startApp(t *testing.T, env map[string]string) *app {
	t.Helper()
	port, err := devstack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	s3addr, err := devstack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{
		"PORT":        port[strings.LastIndex(port, ":")+1:],
		"DEV_S3_ADDR": s3addr,
		"DATA_DIR":    t.TempDir(),
		"ENV_FILE":    "/nonexistent",
		"LOG_LEVEL":   "warn",
	}
	for k, v := range env {
		vars[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	exited := make(chan struct{})
	var runErr error
	go func() {
		runErr = run(ctx, []string{"dev"}, func(k string) string { return vars[k] }, &stdout, &stderr)
		close(exited)
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case <-exited:
			if runErr != nil && !t.Failed() {
				t.Errorf("run returned %v", runErr)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("app did not stop within 30s")
		}
		if t.Failed() {
			t.Logf("app log:\n%s", stderr.String())
		}
	}
	t.Cleanup(stop)
	jar, _ := cookiejar.New(nil)
	a := &app{base: "http://localhost:" + vars["PORT"], stop: stop, http: &http.Client{Jar: jar, Timeout: 30 * time.Second}, log: &stderr}
	if toks := vars["API_TOKENS"]; toks != "" {
		a.token = strings.Split(toks, ",")[0]
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("app exited at start: %v\n%s", runErr, stderr.String())
		default:
		}
		resp, err := http.Get(a.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("app not healthy within 30s\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(stdout.String(), "open "+a.base) {
		t.Errorf("stdout does not tell the URL to open: %q", stdout.String())
	}
	return a
}

// do sends a JSON API request and decodes the answer into out (if not nil).
func (a *app) do(t *testing.T, method, path string, body, out any) int {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, a.base+path, r)
	req.Header.Set("Content-Type", "application/json")
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode
}

type presigned struct {
	ID     string `json:"id"`
	Upload struct {
		URL    string            `json:"url"`
		Fields map[string]string `json:"fields"`
	} `json:"upload"`
	ExpiresAt time.Time `json:"expires_at"`
	StatusURL string    `json:"status_url"`
}

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

type status struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Profile  string `json:"profile"`
	Filename string `json:"filename"`
	Width    int    `json:"width"`
	Height   int    `json:"height"`
	Blurhash string `json:"blurhash"`
	Error    *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Variants []struct {
		Name        string `json:"name"`
		URL         string `json:"url"`
		Width       int    `json:"width"`
		Height      int    `json:"height"`
		Bytes       int64  `json:"bytes"`
		ContentType string `json:"content_type"`
	} `json:"variants"`
}

// presign asks for an upload permission and fails the test unless it is 201.
func (a *app) presign(t *testing.T, filename, ct string, size int, profile string) presigned {
	t.Helper()
	var p presigned
	if st := a.do(t, "POST", "/api/uploads", map[string]any{
		"filename": filename, "content_type": ct, "size": size, "profile": profile,
	}, &p); st != http.StatusCreated {
		t.Fatalf("presign: status %d", st)
	}
	return p
}

// postToS3 sends the multipart form exactly as a browser does: every field,
// then the file last. It returns S3's status and body.
func postToS3(t *testing.T, url string, fields map[string]string, ct string, data []byte) (int, string) {
	t.Helper()
	body, formType := multipartForm(fields, ct, data)
	resp, err := http.Post(url, formType, body)
	if err != nil {
		t.Fatalf("POST to S3: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// multipartForm builds the body a browser sends: the fields, then the file.
func multipartForm(fields map[string]string, ct string, data []byte) (*bytes.Buffer, string) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="photo.jpg"`)
	h.Set("Content-Type", ct)
	fw, _ := mw.CreatePart(h)
	fw.Write(data)
	mw.Close()
	return &body, mw.FormDataContentType()
}

// waitDone polls the status until ready or failed.
func (a *app) waitDone(t *testing.T, id string) status {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		var s status
		if st := a.do(t, "GET", "/api/uploads/"+id, nil, &s); st != http.StatusOK {
			t.Fatalf("status: %d", st)
		}
		if s.Status == "ready" || s.Status == "failed" {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("upload %s still %s after 90s", id, s.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// photo makes a JPEG with detail, so encoders and resizers have work to do.
func photo(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x ^ y) & 0xff), 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// uploadPhoto runs the whole API flow and returns the final status.
func (a *app) uploadPhoto(t *testing.T, data []byte, profile string) status {
	t.Helper()
	p := a.presign(t, "holiday.jpg", "image/jpeg", len(data), profile)
	if st, body := postToS3(t, p.Upload.URL, p.Upload.Fields, "image/jpeg", data); st != http.StatusCreated {
		t.Fatalf("S3 POST: %d %s", st, body)
	}
	var c struct{ ID, Status string }
	if st := a.do(t, "POST", "/api/uploads/"+p.ID+"/complete", nil, &c); st != http.StatusAccepted {
		t.Fatalf("complete: %d", st)
	}
	return a.waitDone(t, p.ID)
}

func TestEndToEnd(t *testing.T) {
	backends := []struct {
		name string
		env  func(t *testing.T) map[string]string
	}{
		{"sqlite+miniredis", func(t *testing.T) map[string]string { return nil }},
		{"postgres+redis", func(t *testing.T) map[string]string {
			addr, db := testenv.RedisAddr(t)
			return map[string]string{
				"DATABASE_URL": testenv.PostgresURL(t),
				"REDIS_URL":    fmt.Sprintf("redis://%s/%d", addr, db),
			}
		}},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			a := startApp(t, b.env(t))
			s := a.uploadPhoto(t, photo(t, 1600, 1200), "photo")
			if s.Status != "ready" {
				t.Fatalf("status %s, error %+v", s.Status, s.Error)
			}
			if s.Width != 1600 || s.Height != 1200 || s.Blurhash == "" || s.Filename != "holiday.jpg" {
				t.Errorf("upload = %dx%d blurhash %q filename %q", s.Width, s.Height, s.Blurhash, s.Filename)
			}
			want := map[string][2]int{
				"w2048.jpg": {1600, 1200}, "w2048.webp": {1600, 1200}, // never upscaled
				"w1024.jpg": {1024, 768}, "w1024.webp": {1024, 768},
				"w320.jpg": {320, 240}, "w320.webp": {320, 240},
				"thumb150.jpg": {150, 150}, "thumb150.webp": {150, 150},
			}
			if len(s.Variants) != len(want) {
				t.Errorf("got %d variants, want %d: %+v", len(s.Variants), len(want), s.Variants)
			}
			for _, v := range s.Variants {
				size, ok := want[v.Name]
				if !ok {
					t.Errorf("unexpected variant %s", v.Name)
					continue
				}
				resp, err := http.Get(v.URL)
				if err != nil {
					t.Fatal(err)
				}
				data, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !strings.Contains(v.URL, "/cdn/variants/"+s.ID+"/") {
					t.Errorf("%s: GET %s = %d", v.Name, v.URL, resp.StatusCode)
					continue
				}
				if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
					t.Errorf("%s: Cache-Control %q", v.Name, cc)
				}
				cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
				if err != nil {
					t.Errorf("%s: does not decode: %v", v.Name, err)
					continue
				}
				if cfg.Width != size[0] || cfg.Height != size[1] || v.Width != size[0] || v.Height != size[1] {
					t.Errorf("%s: decoded %dx%d (%s), JSON %dx%d, want %dx%d", v.Name, cfg.Width, cfg.Height, format, v.Width, v.Height, size[0], size[1])
				}
				if int64(len(data)) != v.Bytes {
					t.Errorf("%s: %d bytes served, JSON says %d", v.Name, len(data), v.Bytes)
				}
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for the app's goroutines to write
// while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
