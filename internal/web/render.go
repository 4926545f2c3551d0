package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"uploader/internal/upload"
	assets "uploader/web"
)

// views holds the parsed templates and the content-hashed static files.
type views struct {
	pages  map[string]*template.Template
	static map[string]staticFile // by hashed URL path
	urls   map[string]string     // file name -> hashed URL
}

type staticFile struct {
	body        []byte
	contentType string
}

var pageNames = []string{"index", "upload", "gallery", "error"}

func loadViews() (*views, error) {
	v := &views{pages: map[string]*template.Template{}, static: map[string]staticFile{}, urls: map[string]string{}}
	for _, name := range pageNames {
		t, err := template.ParseFS(assets.Templates, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", name, err)
		}
		v.pages[name] = t
	}
	err := fs.WalkDir(assets.Static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(assets.Static, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		name := strings.TrimPrefix(p, "static/")
		u := "/static/" + hex.EncodeToString(sum[:6]) + "/" + name
		v.urls[name] = u
		v.static[u] = staticFile{body: body, contentType: contentTypeOf(name)}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, need := range []string{"app.css", "upload.js"} {
		if v.urls[need] == "" {
			return nil, fmt.Errorf("web: static file %s is missing", need)
		}
	}
	return v, nil
}

func contentTypeOf(name string) string {
	switch path.Ext(name) {
	case ".css":
		return "text/css; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".ico":
		return "image/x-icon"
	}
	return "application/octet-stream"
}

func (s *Server) layout(r *http.Request, title string) layout {
	return layout{
		Title:  title,
		CSSURL: s.views.urls["app.css"],
		JSURL:  s.views.urls["upload.js"],
	}
}

// render executes a page into a buffer first, so a template error never
// leaves half a page on the wire.
func (s *Server) render(w http.ResponseWriter, status int, name string, data any) error {
	var buf bytes.Buffer
	if err := s.views.pages[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		return fmt.Errorf("web: render %s: %w", name, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, err := buf.WriteTo(w)
	return err
}

func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, err error) {
	st := ErrorStatus(err)
	s.logError(r, st, err)
	retryAfter(w, st)
	data := errorPage{layout: s.layout(r, http.StatusText(st)), Status: st, Message: upload.ErrorMessage(err)}
	if rerr := s.render(w, st, "error", data); rerr != nil {
		s.logger(r).Error("render error page", "err", rerr)
		http.Error(w, upload.ErrorMessage(err), st)
	}
}

// serveStatic serves embedded files under their content hash, cached for a year.
func (s *Server) serveStatic(w http.ResponseWriter, r *http.Request) {
	f, ok := s.views.static[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", f.contentType)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Write(f.body)
}
