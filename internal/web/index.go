package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"uploader/internal/upload"
)

// index handles GET /: the upload page. Its form carries a presigned POST
// policy, so the page works without JavaScript; upload.js enhances it.
// The no-JS policy redirects to /uploads/{id}/uploaded with a signature
// binding the ID to this visitor, so page views write nothing to the
// database: the row is created when the file has arrived.
func (s *Server) index(w http.ResponseWriter, r *http.Request) error {
	prof, err := s.profileFor(r.Context(), r.URL.Query().Get("profile"))
	if err != nil {
		return err
	}
	who := ownerOf(r.Context())
	owner := who.claimOwner()
	now := s.now()
	u := &upload.Upload{ID: s.issueID(now, who), Profile: prof.Name, Owner: who.Owner, User: who.User, DeclaredType: prof.AllowedTypes[0]}
	exp := now.Add(s.cfg.UploadExpires).Unix()
	redirect := fmt.Sprintf("%s/uploads/%s/uploaded?profile=%s&exp=%d&sig=%s", s.cfg.AppURL, u.ID,
		url.QueryEscape(prof.Name), exp, s.sign(uploadedClaim(u.ID, owner, prof.Name, exp)))
	post, err := s.presign(r.Context(), u, prof, redirect)
	if err != nil {
		return err
	}
	recent, err := s.listOwn(r.Context(), "", "", 6)
	if err != nil {
		return err
	}
	page := indexPage{layout: s.layout(r, "Upload"), Form: uploadForm{Action: post.URL, Fields: formFields(post.Fields)}}
	for _, name := range s.profiles.Names() {
		if !ownerOf(r.Context()).allows(name) {
			continue
		}
		p := s.profiles[name]
		opt := profileOption{
			Name: name, Selected: name == prof.Name, MaxBytes: p.MaxBytes,
			MaxBytesText: humanBytes(p.MaxBytes), Accept: acceptAttr(p.AllowedTypes),
		}
		page.Profiles = append(page.Profiles, opt)
		if opt.Selected {
			page.Form.Profile = opt
		}
	}
	for _, ru := range recent {
		page.Recent = append(page.Recent, s.toView(ru))
	}
	return s.render(w, http.StatusOK, "index", page)
}

func uploadedClaim(id, owner, profile string, exp int64) string {
	return "uploaded|" + id + "|" + owner + "|" + profile + "|" + strconv.FormatInt(exp, 10)
}

// acceptAttr is a file input's accept list: the profile's types, plus the
// extensions of those types that some systems know no MIME type for
// (Windows has none for HEIC/HEIF/AVIF, so its picker would hide them).
func acceptAttr(types []string) string {
	out := slices.Clone(types)
	for _, t := range types {
		switch t {
		case "image/heic":
			out = append(out, ".heic")
		case "image/heif":
			out = append(out, ".heif")
		case "image/avif":
			out = append(out, ".avif")
		}
	}
	return strings.Join(out, ",")
}
