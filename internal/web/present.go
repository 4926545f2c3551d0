package web

import (
	"fmt"
	"slices"
	"strings"
	"unicode"

	"uploader/internal/upload"
)

// uploadJSON is the JSON form of an upload (GET /api/uploads/{id}).
type uploadJSON struct {
	ID        string        `json:"id"`
	Status    string        `json:"status"`
	Profile   string        `json:"profile"`
	Filename  string        `json:"filename"`
	Width     int           `json:"width,omitempty"`
	Height    int           `json:"height,omitempty"`
	Bytes     int64         `json:"bytes,omitempty"`
	Blurhash  string        `json:"blurhash,omitempty"`
	Error     *errorDetail  `json:"error"`
	Variants  []variantJSON `json:"variants"`
	CreatedAt string        `json:"created_at"`
}

type variantJSON struct {
	Name          string `json:"name"`
	URL           string `json:"url"`
	Width         int    `json:"width"`
	Height        int    `json:"height"`
	Bytes         int64  `json:"bytes"`
	OriginalBytes int64  `json:"original_bytes"`
	ContentType   string `json:"content_type"`
}

func (s *Server) toJSON(u *upload.Upload) uploadJSON {
	j := uploadJSON{
		ID: u.ID, Status: string(u.Status), Profile: u.Profile, Filename: u.Filename,
		Width: u.Width, Height: u.Height, Bytes: u.Bytes, Blurhash: u.Blurhash,
		Variants: []variantJSON{}, CreatedAt: u.CreatedAt.UTC().Format("2006-01-02T15:04:05.000Z"),
	}
	if u.Status == upload.StatusFailed {
		j.Error = &errorDetail{Code: u.ErrorCode, Message: u.ErrorMessage}
	}
	for _, v := range s.ordered(u) {
		j.Variants = append(j.Variants, variantJSON{
			Name: v.Name, URL: s.cdn.URLFor(v.Key, s.profiles[u.Profile].Private, s.now()), Width: v.Width, Height: v.Height,
			Bytes: v.Bytes, OriginalBytes: v.OriginalBytes, ContentType: v.ContentType,
		})
	}
	return j
}

func (s *Server) toView(u *upload.Upload) uploadView {
	v := uploadView{
		ID: u.ID, Filename: displayName(u.Filename), Profile: u.Profile, Status: string(u.Status),
		Done:         u.Status == upload.StatusReady || u.Status == upload.StatusFailed,
		ErrorMessage: u.ErrorMessage, Width: u.Width, Height: u.Height, Blurhash: u.Blurhash,
		PageURL: "/uploads/" + u.ID, StatusURL: "/api/uploads/" + u.ID, EventsURL: "/uploads/" + u.ID + "/events",
		CreatedAt: u.CreatedAt,
	}
	prof := s.profiles[u.Profile]
	for _, vr := range s.ordered(u) {
		vv := variantView{
			Name: vr.Name, URL: s.cdn.URLFor(vr.Key, prof.Private, s.now()), ContentType: vr.ContentType,
			Width: vr.Width, Height: vr.Height, Bytes: vr.Bytes, BytesText: humanBytes(vr.Bytes),
			Crop: specOf(prof, vr.Name).Fit == upload.FitCover,
		}
		if vr.OriginalBytes > vr.Bytes && vr.OriginalBytes > 0 {
			vv.SavingText = fmt.Sprintf("−%d%% (optimized)", (vr.OriginalBytes-vr.Bytes)*100/vr.OriginalBytes)
		}
		v.Variants = append(v.Variants, vv)
	}
	// The preview is a mid-size, uncropped image in the primary format:
	// the largest such variant at most 1024 wide.
	for i := range v.Variants {
		vv := &v.Variants[i]
		if vv.ContentType != "image/webp" && vv.ContentType != "image/avif" && !vv.Crop && vv.Width <= 1024 {
			v.Preview = vv
			break
		}
	}
	if v.Preview == nil && len(v.Variants) > 0 {
		v.Preview = &v.Variants[0]
	}
	v.Snippet = snippet(v.Variants)
	return v
}

// ordered returns the upload's variants in the profile's order (largest
// first, as profiles list them), each primary format before its WebP and
// then its AVIF.
func (s *Server) ordered(u *upload.Upload) []upload.Variant {
	prof := s.profiles[u.Profile]
	rank := func(v upload.Variant) int {
		base, _, _ := strings.Cut(v.Name, ".")
		for i, spec := range prof.Variants {
			if spec.Name == base {
				r := 3 * i
				switch v.ContentType {
				case "image/webp":
					r++
				case "image/avif":
					r += 2
				}
				return r
			}
		}
		return 1 << 20 // a variant of a profile since changed: last
	}
	out := slices.Clone(u.Variants)
	slices.SortStableFunc(out, func(a, b upload.Variant) int { return rank(a) - rank(b) })
	return out
}

func specOf(p upload.Profile, variant string) upload.VariantSpec {
	base, _, _ := strings.Cut(variant, ".")
	for _, spec := range p.Variants {
		if spec.Name == base {
			return spec
		}
	}
	return upload.VariantSpec{}
}

// snippet is the HTML a user pastes into another site: a <picture> with
// the AVIF files (when the profile makes them) and then the WebP files as
// sources, so a browser takes the first it can show, and the primary
// format as the fallback, over the uncropped sizes (a square crop has
// another aspect ratio and does not belong in a srcset).
func snippet(vs []variantView) string {
	var avif, webp, other []string
	var src, webpSrc string
	var w, h int
	for _, v := range vs {
		if v.Crop {
			continue
		}
		c := fmt.Sprintf("%s %dw", v.URL, v.Width)
		switch v.ContentType {
		case "image/avif":
			avif = append(avif, c)
			continue
		case "image/webp":
			if webpSrc == "" {
				webpSrc = v.URL
			}
			webp = append(webp, c)
			continue
		}
		if src == "" {
			src, w, h = v.URL, v.Width, v.Height
		}
		other = append(other, c)
	}
	switch {
	case src == "" && webpSrc == "":
		return ""
	case src == "":
		return fmt.Sprintf("<img src=\"%s\"\n     srcset=\"%s\"\n     sizes=\"100vw\" alt=\"Describe the image\">", webpSrc, strings.Join(webp, ", "))
	}
	var b strings.Builder
	b.WriteString("<picture>\n")
	if len(avif) > 0 {
		fmt.Fprintf(&b, "  <source type=\"image/avif\"\n          srcset=\"%s\"\n          sizes=\"100vw\">\n", strings.Join(avif, ", "))
	}
	if len(webp) > 0 {
		fmt.Fprintf(&b, "  <source type=\"image/webp\"\n          srcset=\"%s\"\n          sizes=\"100vw\">\n", strings.Join(webp, ", "))
	}
	fmt.Fprintf(&b, "  <img src=\"%s\"\n       srcset=\"%s\"\n       sizes=\"100vw\" width=\"%d\" height=\"%d\" alt=\"Describe the image\">\n</picture>",
		src, strings.Join(other, ", "), w, h)
	return b.String()
}

// humanBytes formats a size the way people read it: "31 MB", "182 KB".
func humanBytes(n int64) string {
	switch {
	case n >= 10<<20 || (n >= 1<<20 && n%(1<<20) == 0):
		return fmt.Sprintf("%d MB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// cleanFilename keeps a client's filename as data only: no path, no
// control or bidirectional-override characters, at most 255 characters.
// It is stored and shown, never used in a key.
func cleanFilename(name string) string {
	if plainFilename(name) {
		return name // nothing below would change it
	}
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\u200b' || r == '\ufeff' {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	if r := []rune(name); len(r) > 255 {
		name = string(r[:255])
	}
	if name == "" || name == "." || name == ".." {
		return "upload"
	}
	return name
}

// plainFilename reports whether name is printable ASCII without path
// separators or surrounding spaces, short, and not "", "." or "..".
func plainFilename(name string) bool {
	if name == "" || name == "." || name == ".." || len(name) > 255 || name[0] == ' ' || name[len(name)-1] == ' ' {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c >= 0x7f || c == '/' || c == '\\' {
			return false
		}
	}
	return true
}

// displayName is cleanFilename applied again on the way out, for rows
// written before the rules tightened.
func displayName(name string) string { return cleanFilename(name) }
