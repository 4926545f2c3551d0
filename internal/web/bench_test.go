package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"uploader/internal/cdn"
	"uploader/internal/s3store"
	"uploader/internal/sqlstore"
	"uploader/internal/testenv"
	"uploader/internal/upload"
)

type noJobs struct{}

func (noJobs) EnqueueProcess(context.Context, string, upload.Profile) error { return nil }

// benchServer is the web role on a real SQLite store and a real S3 client
// (signing a policy needs no round trip to S3).
func benchServer(b testing.TB, dbURL string) http.Handler {
	b.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, dbURL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	objs, err := s3store.New(ctx, s3store.Config{Bucket: "bench", Endpoint: "http://127.0.0.1:1", AccessKey: "AKIDEXAMPLE", SecretKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"})
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(Deps{
		Config: Config{APITokens: []string{"tok"}, SessionSecret: []byte("0123456789abcdef0123456789abcdef"),
			UploadExpires: 10 * time.Minute, PresignPerMinute: 1 << 30, PresignPerMinuteIP: 1 << 30},
		Store: db, Objects: objs, Jobs: noJobs{}, Profiles: upload.DefaultProfiles(50_000_000),
		CDN: cdn.New("http://cdn.example"), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	return s.Handler()
}

// BenchmarkCreateUpload is POST /api/uploads end to end in process: auth,
// validation, policy signing and JSON. A single POST writes no row, so the
// database matters only in that it is wired in as in production.
func BenchmarkCreateUpload(b *testing.B) {
	for _, db := range []struct {
		name string
		url  func(b *testing.B) string
	}{
		{"sqlite", func(b *testing.B) string { return "sqlite:" + testenv.SQLiteURL(b) }},
		{"postgres", func(b *testing.B) string { return testenv.PostgresURL(b) }},
	} {
		b.Run(db.name, func(b *testing.B) {
			h := benchServer(b, db.url(b))
			body := `{"filename":"a.jpg","content_type":"image/jpeg","size":123456,"profile":"photo"}`
			b.ReportAllocs()
			b.SetParallelism(25) // 50 clients at once on 2 cores, like the load test
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest("POST", "/api/uploads", strings.NewReader(body))
					req.Header.Set("Authorization", "Bearer tok")
					req.Header.Set("Content-Type", "application/json")
					w := httptest.NewRecorder()
					h.ServeHTTP(w, req)
					if w.Code != http.StatusCreated {
						b.Fatalf("status %d: %s", w.Code, w.Body)
					}
				}
			})
		})
	}
}

// BenchmarkShowUpload is GET /api/uploads/{id}, the call clients poll: auth,
// one read of the row with its variants, and JSON.
func BenchmarkShowUpload(b *testing.B) {
	h := benchServer(b, "sqlite:"+testenv.SQLiteURL(b))
	body := `{"filename":"a.jpg","content_type":"image/jpeg","size":123456,"profile":"photo"}`
	req := httptest.NewRequest("POST", "/api/uploads", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer tok")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusCreated {
		b.Fatalf("create: %d", w.Code)
	}
	id := w.Body.String()[len(`{"id":"`):][:26]
	b.ReportAllocs()
	b.SetParallelism(25)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("GET", "/api/uploads/"+id, nil)
			req.Header.Set("Authorization", "Bearer tok")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	})
}
