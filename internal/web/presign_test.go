package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"uploader/internal/s3store"
	"uploader/internal/upload"
)

// apiCall sends a JSON request with a bearer token and decodes the answer.
func apiCall(t *testing.T, method, u, token, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: %d, not JSON: %s", method, u, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, out
}

type presigned struct {
	ID     string
	URL    string
	Fields map[string]string
}

func presignAPI(t *testing.T, base, token, filename string) presigned {
	t.Helper()
	st, out := apiCall(t, "POST", base+"/api/uploads", token,
		fmt.Sprintf(`{"filename":%q,"content_type":"image/jpeg","size":40,"profile":"photo"}`, filename))
	if st != http.StatusCreated {
		t.Fatalf("presign: %d %v", st, out)
	}
	p := presigned{ID: out["id"].(string), Fields: map[string]string{}}
	up := out["upload"].(map[string]any)
	p.URL = up["url"].(string)
	for k, v := range up["fields"].(map[string]any) {
		p.Fields[k] = v.(string)
	}
	return p
}

const smallFile = "\xff\xd8\xff\xe0 not much of a JPEG, but S3 does not look"

// sendFile posts the policy's fields, then a small file, to S3.
func sendFile(t *testing.T, p presigned) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	names := make([]string, 0, len(p.Fields))
	for k := range p.Fields {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		mw.WriteField(k, p.Fields[k])
	}
	fw, _ := mw.CreateFormFile("file", "a.jpg")
	fw.Write([]byte(smallFile))
	mw.Close()
	resp, err := http.Post(p.URL, mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("S3 answered the POST with %d: %s", resp.StatusCode, b)
	}
}

// TestRowlessPresign: a presign writes no row, yet GET says something true
// about the upload at each step: awaiting its file (with the policy's
// expiry), arrived, then the row's own status after complete, which made
// the row from the object with the name, owner, type and size it carries.
// Another owner, and an ID nobody issued, get 404.
func TestRowlessPresign(t *testing.T) {
	ts, _, db, clk := testServer(t, Config{APITokens: []string{"tok-a", "tok-b"}})
	ctx := context.Background()
	start := clk.now()

	p := presignAPI(t, ts.URL, "tok-a", "Été à Paris.jpg")
	if us, err := db.ListUploads(ctx, tokenOwner("tok-a"), "", 10); err != nil || len(us) != 0 {
		t.Fatalf("the presign wrote %d rows (err %v), want none", len(us), err)
	}
	st, out := apiCall(t, "GET", ts.URL+"/api/uploads/"+p.ID, "tok-a", "")
	wantExp := start.Add(10 * time.Minute).UTC().Truncate(time.Second).Format(time.RFC3339)
	if st != http.StatusOK || out["status"] != "awaiting_upload" || out["expires_at"] != wantExp {
		t.Errorf("GET before the file: %d %v, want 200 awaiting_upload expiring %s", st, out, wantExp)
	}
	if st, out := apiCall(t, "GET", ts.URL+"/api/uploads/"+p.ID, "tok-b", ""); st != http.StatusNotFound {
		t.Errorf("another owner's GET: %d %v, want 404", st, out)
	}
	// The upload page, opened before the file arrives (a reload mid-upload),
	// follows the upload instead of saying it does not exist.
	for _, c := range []struct {
		token string
		want  int
	}{{"tok-a", http.StatusOK}, {"tok-b", http.StatusNotFound}} {
		req, _ := http.NewRequest("GET", ts.URL+"/uploads/"+p.ID, nil)
		req.Header.Set("Authorization", "Bearer "+c.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want || c.want == http.StatusOK && !strings.Contains(string(page), `id="upload-status"`) {
			t.Errorf("upload page for %s before the file: %d, want %d with the status", c.token, resp.StatusCode, c.want)
		}
	}
	forged := upload.NewID(start)
	if st, out := apiCall(t, "GET", ts.URL+"/api/uploads/"+forged, "tok-a", ""); st != http.StatusNotFound {
		t.Errorf("GET of an ID nobody issued: %d %v, want 404", st, out)
	}
	if st, out := apiCall(t, "POST", ts.URL+"/api/uploads/"+p.ID+"/complete", "tok-a", ""); st != http.StatusConflict {
		t.Errorf("complete before the file: %d %v, want 409", st, out)
	}

	sendFile(t, p)
	if st, out := apiCall(t, "GET", ts.URL+"/api/uploads/"+p.ID, "tok-a", ""); st != http.StatusOK || out["status"] != "arrived" {
		t.Errorf("GET after the file: %d %v, want 200 arrived", st, out)
	}
	if st, out := apiCall(t, "POST", ts.URL+"/api/uploads/"+p.ID+"/complete", "tok-b", ""); st != http.StatusNotFound {
		t.Errorf("another owner's complete: %d %v, want 404", st, out)
	}
	if st, out := apiCall(t, "POST", ts.URL+"/api/uploads/"+p.ID+"/complete", "tok-a", ""); st != http.StatusAccepted || out["status"] != "processing" {
		t.Fatalf("complete: %d %v, want 202 processing", st, out)
	}
	u, err := db.Upload(ctx, p.ID)
	if err != nil {
		t.Fatalf("complete made no row: %v", err)
	}
	if u.Filename != "Été à Paris.jpg" || u.Owner != tokenOwner("tok-a") || u.Profile != "photo" ||
		u.DeclaredType != "image/jpeg" || u.Bytes != int64(len(smallFile)) || u.Status != upload.StatusProcessing {
		t.Errorf("row made from the object: %+v", u)
	}
	if st, out := apiCall(t, "GET", ts.URL+"/api/uploads", "tok-a", ""); st != http.StatusOK || len(out["uploads"].([]any)) != 1 {
		t.Errorf("list after complete: %d %v, want the one upload", st, out)
	}

	// An issued ID whose permission lapsed with no file says so.
	late := presignAPI(t, ts.URL, "tok-a", "late.jpg")
	clk.set(start.Add(11 * time.Minute))
	if st, out := apiCall(t, "GET", ts.URL+"/api/uploads/"+late.ID, "tok-a", ""); st != http.StatusOK || out["status"] != "expired" {
		t.Errorf("GET after expiry: %d %v, want 200 expired", st, out)
	}
	if st, out := apiCall(t, "POST", ts.URL+"/api/uploads/"+late.ID+"/complete", "tok-a", ""); st != http.StatusGone {
		t.Errorf("complete after expiry: %d %v, want 410", st, out)
	}
}

// countingJobs counts the jobs queued per upload.
type countingJobs struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *countingJobs) EnqueueProcess(_ context.Context, id string, _ upload.Profile) error {
	c.mu.Lock()
	c.n[id]++
	c.mu.Unlock()
	return nil
}

// TestConcurrentCompletesMakeOneRow: completes racing for a row-less
// upload, and the bucket's event beside them, make one row with one
// processing run (the task ID, the upload ID, makes the queue keep one).
func TestConcurrentCompletesMakeOneRow(t *testing.T) {
	ts, s, db, _ := testServer(t, Config{APITokens: []string{"tok-a"}})
	jobs := &countingJobs{n: map[string]int{}}
	s.jobs = jobs
	p := presignAPI(t, ts.URL, "tok-a", "a.jpg")
	sendFile(t, p)

	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Go(func() {
			if i == 0 {
				if err := s.arrived(context.Background(), p.ID); err != nil {
					t.Errorf("S3 event: %v", err)
				}
				codes[i] = http.StatusAccepted
				return
			}
			codes[i], _ = apiCall(t, "POST", ts.URL+"/api/uploads/"+p.ID+"/complete", "tok-a", "")
		})
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusAccepted {
			t.Errorf("complete %d: %d, want 202", i, c)
		}
	}
	u, err := db.Upload(context.Background(), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if u.Attempts != 1 || u.Status != upload.StatusProcessing {
		t.Errorf("row after racing completes: status %s, %d processing runs, want processing and 1", u.Status, u.Attempts)
	}
	if jobs.n[p.ID] == 0 || len(jobs.n) != 1 {
		t.Errorf("jobs queued: %v, want only upload %s's", jobs.n, p.ID)
	}
}

// TestCreateResponseJSON: the hand-written encoding of the presign answer
// is byte for byte what json.Marshal writes for it with its fields in a
// map, for plain and awkward values.
func TestCreateResponseJSON(t *testing.T) {
	type upload struct {
		URL    string            `json:"url"`
		Fields map[string]string `json:"fields"`
	}
	type answer struct {
		ID        string    `json:"id"`
		Upload    upload    `json:"upload"`
		ExpiresAt time.Time `json:"expires_at"`
		StatusURL string    `json:"status_url"`
	}
	for _, c := range []answer{
		{ID: "06h331tja5bnnw15ms1bvgfh74", Upload: upload{URL: "http://127.0.0.1:9000/uploads", Fields: map[string]string{
			"key": "incoming/06h331tja5bnnw15ms1bvgfh74", "policy": "eyJjb25k+/=", "x-amz-meta-filename": "%C3%89t%C3%A9.jpg",
			"X-Amz-Date": "20261201T121500Z", "Content-Type": "image/jpeg", "success_action_status": "201",
		}}, ExpiresAt: time.Date(2026, 12, 1, 12, 25, 0, 0, time.UTC), StatusURL: "/api/uploads/06h331tja5bnnw15ms1bvgfh74"},
		{ID: `a"b\c<d>&é` + "\n\u2028", Upload: upload{URL: "https://x/?a=1&b=<2>", Fields: map[string]string{`a"<é>`: "\u2028\n"}},
			ExpiresAt: time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)},
		{ID: "no fields"},
		{Upload: upload{Fields: map[string]string{}}},
	} {
		want, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		var fields formFieldsJSON // nil for a nil map, as json.Marshal has it
		if c.Upload.Fields != nil {
			fields = formFieldsJSON{}
		}
		for k, v := range c.Upload.Fields {
			fields = append(fields, s3store.FormField{Name: k, Value: v})
		}
		slices.SortFunc(fields, func(a, b s3store.FormField) int { return strings.Compare(a.Name, b.Name) })
		fast := createResponse{ID: c.ID, Upload: postFields{URL: c.Upload.URL, Fields: fields}, ExpiresAt: c.ExpiresAt, StatusURL: c.StatusURL}
		if got := string(fast.appendJSON(nil)); got != string(want)+"\n" {
			t.Errorf("appendJSON:\n got %s\nwant %s", got, want)
		}
	}
}

// FuzzCreateRequestFastDecode: wherever the fast presign decoder answers,
// json.Unmarshal answers the same; the seeds are the shapes clients send
// and the ones the fast path must hand over.
func FuzzCreateRequestFastDecode(f *testing.F) {
	for _, s := range []string{
		`{"filename":"a.jpg","content_type":"image/jpeg","size":123456,"profile":"photo"}`,
		` { "filename" : "Été.heic", "content_type":"", "size":1, "multipart": true }` + "\n",
		`{"size":-0,"multipart":null}`, `{"multipart":false}`, `{}`, `{"size":1.5}`, `{"size":1e3}`, `{"size":012}`,
		`{"Filename":"a"}`, `{"filename":"a\"b"}`, `{"filename":"a\u00e9"}`, `{"filename":null}`, `{"size":"12"}`,
		`{"filename":"a"} x`, `{"filename":"a",}`, `{"extra":1}`, `[]`, ``, `{"size":99999999999999999999}`,
		"{\"filename\":\"\xff\"}", `{"filename":"a","filename":"b"}`, `{"size":12,"size":-3}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var fast createRequest
		if !fast.decodeFast(body) {
			if fast != (createRequest{}) {
				t.Fatalf("%q: a refused fast decode changed the request: %+v", body, fast)
			}
			return
		}
		var slow createRequest
		if err := json.Unmarshal(body, &slow); err != nil {
			t.Fatalf("%q: the fast path accepted what json.Unmarshal refuses: %v", body, err)
		}
		if fast.Filename != slow.Filename || fast.ContentType != slow.ContentType || fast.Size != slow.Size ||
			fast.Profile != slow.Profile || (fast.Multipart == nil) != (slow.Multipart == nil) ||
			(fast.Multipart != nil && *fast.Multipart != *slow.Multipart) {
			t.Fatalf("%q: fast %+v, json.Unmarshal %+v", body, fast, slow)
		}
	})
}

// TestCreateRequestFastDecode: the usual body takes the fast path.
func TestCreateRequestFastDecode(t *testing.T) {
	var c createRequest
	if !c.decodeFast([]byte(`{"filename":"a.jpg","content_type":"image/jpeg","size":123456,"profile":"photo","multipart":false}`)) ||
		c.Filename != "a.jpg" || c.ContentType != "image/jpeg" || c.Size != 123456 || c.Profile != "photo" || c.Multipart == nil || *c.Multipart {
		t.Errorf("the usual presign body: %+v", c)
	}
}
