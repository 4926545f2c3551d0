package web

import (
	"bytes"
	"context"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"uploader/internal/jsonstr"
	"uploader/internal/s3store"
	"uploader/internal/upload"
)

type createRequest struct {
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	Profile     string `json:"profile"`
	Multipart   *bool  `json:"multipart"` // true: parts whatever the size; false: one POST; absent: by size
}

type createResponse struct {
	ID        string     `json:"id"`
	Upload    postFields `json:"upload"`
	ExpiresAt time.Time  `json:"expires_at"`
	StatusURL string     `json:"status_url"`
}

type postFields struct {
	URL    string         `json:"url"`
	Fields formFieldsJSON `json:"fields"`
}

// formFieldsJSON is a policy's fields, in name order, written as the JSON
// object of them.
type formFieldsJSON []s3store.FormField

func (fs formFieldsJSON) MarshalJSON() ([]byte, error) { return fs.appendJSON(nil), nil }

// appendJSON writes the object json.Marshal writes for the map of the
// fields (its keys sorted, as these are already).
func (fs formFieldsJSON) appendJSON(b []byte) []byte {
	if fs == nil {
		return append(b, "null"...)
	}
	b = append(b, '{')
	for i, f := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonstr.Append(b, f.Name)
		b = append(b, ':')
		b = jsonstr.Append(b, f.Value)
	}
	return append(b, '}')
}

// createUpload handles POST /api/uploads: it checks the request against the
// profile and signs a POST policy for it. A single POST writes nothing: the
// policy makes S3 keep the upload's owner, profile and filename with the
// object, and the row is made from the object when the file has arrived
// (upload_arrived.go). The ID's MAC lets GET /api/uploads/{id} tell the
// caller's upload that has not arrived from one nobody issued.
func (s *Server) createUpload(w http.ResponseWriter, r *http.Request) error {
	var req createRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	u, prof, err := s.newUpload(r.Context(), req)
	if err != nil {
		return err
	}
	if mp, err := s.wantsMultipart(prof, req.Size, req.Multipart); err != nil {
		return err
	} else if mp {
		return s.createMultipart(w, r, u)
	}
	post, err := s.presign(r.Context(), u, prof, "")
	if err != nil {
		return err
	}
	if s.log.Enabled(r.Context(), slog.LevelDebug) { // the hot path: no logger unless asked for
		s.logger(r).Debug("upload presigned", "upload_id", u.ID, "profile", prof.Name, "declared_bytes", req.Size)
	}
	resp := createResponse{
		ID: u.ID, Upload: postFields{URL: post.URL, Fields: post.Fields},
		ExpiresAt: post.ExpiresAt.UTC(), StatusURL: "/api/uploads/" + u.ID,
	}
	bp := bodyBufs.Get().(*[]byte)
	*bp = resp.appendJSON((*bp)[:0])
	writeJSONBody(w, http.StatusCreated, *bp)
	bodyBufs.Put(bp)
	return nil
}

// appendJSON appends c as json.Marshal writes it, and a newline, without
// reflection: this answer is the hot path's.
// TestCreateResponseJSON checks the two agree byte for byte.
func (c createResponse) appendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = jsonstr.Append(b, c.ID)
	b = append(b, `,"upload":{"url":`...)
	b = jsonstr.Append(b, c.Upload.URL)
	b = append(b, `,"fields":`...)
	b = c.Upload.Fields.appendJSON(b)
	b = append(b, `},"expires_at":"`...)
	b = c.ExpiresAt.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","status_url":`...)
	b = jsonstr.Append(b, c.StatusURL)
	return append(b, "}\n"...)
}

// presign signs the POST policy for u: the exact key, the size range of the
// profile, the declared type, u's metadata, and either a 201 answer or a
// redirect.
func (s *Server) presign(ctx context.Context, u *upload.Upload, prof upload.Profile, redirect string) (*s3store.PresignedPost, error) {
	p := s3store.PostPolicy{
		Key:                   upload.IncomingKey(u.ID),
		ContentType:           u.DeclaredType,
		MaxBytes:              prof.MaxBytes,
		Expires:               s.cfg.UploadExpires,
		SuccessActionStatus:   http.StatusCreated,
		SuccessActionRedirect: redirect,
		Metadata:              upload.ObjectMeta(u),
	}
	post, err := s.objects.PresignPost(ctx, p)
	if err != nil {
		return nil, err
	}
	return post, nil
}

// newUpload checks a presign request against its profile (type, size) and
// returns the pending upload it describes; POST /api/uploads and Uppy's
// POST /api/uppy/uploads share it, so both accept the same files.
func (s *Server) newUpload(ctx context.Context, req createRequest) (*upload.Upload, upload.Profile, error) {
	prof, err := s.profileFor(ctx, req.Profile)
	if err != nil {
		return nil, prof, err
	}
	ct := normalizeType(req.ContentType)
	if ct == "" || ct == "application/octet-stream" {
		// Browsers without a MIME mapping for .heic/.heif/.avif (Chrome on
		// Windows, some Android pickers) declare nothing or octet-stream.
		// The policy is then signed for the type the extension names, the
		// client sends that Content-Type field as given, and the worker
		// sniffs the bytes whatever was declared.
		ct = typeFromExtension(req.Filename)
	}
	if !prof.Allows(ct) {
		return nil, prof, typeError(req.ContentType)
	}
	switch {
	case req.Size <= 0:
		return nil, prof, upload.Errorf(upload.EINVALID, "size must be the file's size in bytes (more than 0).")
	case req.Size > prof.MaxBytes:
		return nil, prof, upload.Errorf(upload.ETOOLARGE, "This file is %s; the limit is %s.", humanBytes(req.Size), humanBytes(prof.MaxBytes))
	}
	now := s.now()
	who := ownerOf(ctx)
	u := &upload.Upload{
		ID: s.issueID(now, who), Profile: prof.Name, Owner: who.Owner, User: who.User,
		Filename: cleanFilename(req.Filename), DeclaredType: ct, DeclaredBytes: req.Size,
		Status: upload.StatusPending, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(s.cfg.UploadExpires),
	}
	return u, prof, nil
}

// profileFor is profile for the caller: a signed-in user's default is the
// first profile their link allows, and any other answers 403.
func (s *Server) profileFor(ctx context.Context, name string) (upload.Profile, error) {
	id := ownerOf(ctx)
	if name == "" && len(id.Profiles) > 0 && !id.allows(defaultProfile) {
		name = id.Profiles[0]
	}
	p, err := s.profile(name)
	if err != nil {
		return p, err
	}
	if !id.allows(p.Name) {
		return p, upload.Errorf(upload.EFORBIDDEN, "You may not upload to the %s profile; your sign-in allows only %s.", p.Name, strings.Join(id.Profiles, ", "))
	}
	return p, nil
}

func (s *Server) profile(name string) (upload.Profile, error) {
	if name == "" {
		name = defaultProfile
	}
	p, ok := s.profiles[name]
	if !ok {
		return p, upload.Errorf(upload.EINVALID, "Unknown profile %q; use one of: %s.", name, strings.Join(s.profiles.Names(), ", "))
	}
	return p, nil
}

// normalizeType lowercases a content type, drops its parameters and maps
// the common misspelling image/jpg.
func normalizeType(ct string) string {
	if plainType(ct) && ct != "image/jpg" && ct != "image/pjpeg" {
		return ct // what ParseMediaType would return, without its allocations
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(ct))
	}
	if mt == "image/jpg" || mt == "image/pjpeg" {
		mt = "image/jpeg"
	}
	return mt
}

// plainType reports whether ct is already a bare lowercase type/subtype
// of token characters, as clients send it.
func plainType(ct string) bool {
	slash := strings.IndexByte(ct, '/')
	if slash <= 0 || slash == len(ct)-1 {
		return false
	}
	for i := 0; i < len(ct); i++ {
		c := ct[i]
		if i != slash && !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// extensionTypes maps the extensions of accepted images to their types.
var extensionTypes = map[string]string{
	".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".jpe": "image/jpeg", ".png": "image/png",
	".gif": "image/gif", ".webp": "image/webp", ".heic": "image/heic", ".heif": "image/heif",
	".hif": "image/heif", ".avif": "image/avif",
}

// typeFromExtension returns the image type a filename's extension names,
// or "".
func typeFromExtension(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return extensionTypes[strings.ToLower(name[i:])]
	}
	return ""
}

var typeNames = map[string]string{
	"image/svg+xml": "an SVG drawing", "image/tiff": "a TIFF image", "image/bmp": "a BMP image",
	"image/heic": "a HEIC photo", "image/heif": "a HEIF photo", "image/avif": "an AVIF image",
	"application/pdf": "a PDF document", "text/html": "an HTML page", "text/plain": "a text file",
	"video/mp4": "a video", "video/quicktime": "a video", "application/zip": "a ZIP archive",
}

func typeError(declared string) error {
	what := typeNames[normalizeType(declared)]
	switch {
	case what != "":
	case declared == "":
		what = "of unknown type"
	default:
		what = "of type " + declared
	}
	return upload.Errorf(upload.EUNSUPPORTED, "This file is %s; only JPEG, PNG, GIF, WebP, HEIC/HEIF and AVIF images are accepted.", what)
}

// formFields returns a policy's form fields (in name order) for the
// server-rendered form.
func formFields(fs []s3store.FormField) []field {
	out := make([]field, len(fs))
	for i, f := range fs {
		out[i] = field(f)
	}
	return out
}

// decodeFast parses the usual presign body, a flat object of these keys
// with plain values, without reflection: json.Unmarshal costs more than
// the rest of the decoding path together. It reports false, leaving c
// alone, for anything else (escapes, other keys or spellings, numbers
// that are not plain integers, null strings, invalid UTF-8), which
// decodeJSON then hands to json.Unmarshal; TestCreateRequestFastDecode
// checks that both agree wherever the fast path answers.
func (c *createRequest) decodeFast(b []byte) bool {
	var out createRequest
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		i++
	} else {
		for {
			key, j, ok := plainBytes(b, i)
			if !ok {
				return false
			}
			i = skipSpace(b, j)
			if i >= len(b) || b[i] != ':' {
				return false
			}
			i = skipSpace(b, i+1)
			switch string(key) { // compared, not allocated
			case "filename", "content_type", "profile":
				v, j, ok := plainBytes(b, i)
				if !ok {
					return false
				}
				switch string(key) {
				case "filename":
					out.Filename = string(v)
				case "content_type":
					out.ContentType = string(v)
				default:
					out.Profile = string(v)
				}
				i = j
			case "size":
				n, j, ok := plainInt(b, i)
				if !ok {
					return false
				}
				out.Size, i = n, j
			case "multipart":
				switch {
				case bytes.HasPrefix(b[i:], []byte("true")):
					t := true
					out.Multipart, i = &t, i+4
				case bytes.HasPrefix(b[i:], []byte("false")):
					f := false
					out.Multipart, i = &f, i+5
				case bytes.HasPrefix(b[i:], []byte("null")):
					out.Multipart, i = nil, i+4
				default:
					return false
				}
			default:
				return false
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return false
			}
			if b[i] == '}' {
				i++
				break
			}
			if b[i] != ',' {
				return false
			}
			i = skipSpace(b, i+1)
		}
	}
	if skipSpace(b, i) != len(b) {
		return false
	}
	*c = out
	return true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// plainBytes reads a JSON string at b[i] that has no escapes or control
// characters and is valid UTF-8, and returns its bytes and the index
// after it.
func plainBytes(b []byte, i int) ([]byte, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			if !utf8.Valid(b[i+1 : j]) {
				return nil, 0, false
			}
			return b[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20:
			return nil, 0, false
		}
	}
	return nil, 0, false
}

// plainInt reads an integer written as JSON allows (no leading zeros, no
// fraction or exponent) that fits an int64.
func plainInt(b []byte, i int) (int64, int, bool) {
	j := i
	if j < len(b) && b[j] == '-' {
		j++
	}
	start := j
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		j++
	}
	if j == start || (b[start] == '0' && j > start+1) || j-start > 18 {
		return 0, 0, false
	}
	if j < len(b) && (b[j] == '.' || b[j] == 'e' || b[j] == 'E') {
		return 0, 0, false
	}
	n, err := strconv.ParseInt(string(b[i:j]), 10, 64)
	return n, j, err == nil
}
