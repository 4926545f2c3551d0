package web

import (
	"context"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

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
	URL    string            `json:"url"`
	Fields map[string]string `json:"fields"`
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
// reflection or the map's boxing: this answer is the hot path's.
// TestCreateResponseJSON checks the two agree byte for byte.
func (c createResponse) appendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, c.ID)
	b = append(b, `,"upload":{"url":`...)
	b = appendJSONString(b, c.Upload.URL)
	b = append(b, `,"fields":`...)
	if c.Upload.Fields == nil {
		b = append(b, "null"...)
	} else {
		keys := make([]string, 0, 16)
		for k := range c.Upload.Fields {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, c.Upload.Fields[k])
		}
		b = append(b, '}')
	}
	b = append(b, `},"expires_at":"`...)
	b = c.ExpiresAt.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","status_url":`...)
	b = appendJSONString(b, c.StatusURL)
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
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(ct))
	}
	if mt == "image/jpg" || mt == "image/pjpeg" {
		mt = "image/jpeg"
	}
	return mt
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

// sortedFields returns a policy's form fields in a stable order for the
// server-rendered form.
func sortedFields(m map[string]string) []field {
	out := make([]field, 0, len(m))
	for k, v := range m {
		out = append(out, field{Name: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
