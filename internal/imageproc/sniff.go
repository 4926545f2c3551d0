package imageproc

import (
	"bytes"

	"uploader/internal/upload"
)

// Content types the service accepts. They are the only values Sniff returns
// without an error.
const (
	TypeJPEG = "image/jpeg"
	TypePNG  = "image/png"
	TypeGIF  = "image/gif"
	TypeWebP = "image/webp"
	// HEIF files are told apart by the brands of their ftyp box: HEIC
	// (HEVC inside, what iPhones write), AVIF (AV1 inside), or plain HEIF
	// (mif1/msf1 only; the codec is then read from the primary item).
	TypeHEIC = "image/heic"
	TypeHEIF = "image/heif"
	TypeAVIF = "image/avif"
)

const acceptedTypes = "only JPEG, PNG, GIF, WebP, HEIC/HEIF and AVIF images are accepted."

// Sniff looks at the first bytes of a file (callers pass at least the first
// 512 bytes or the whole file) and returns "image/jpeg", "image/png",
// "image/gif" or "image/webp". For anything else it returns an *upload.Error
// with code upload.EUNSUPPORTED whose message says in plain words what the
// file appears to be, because "unsupported type" alone leaves a person
// guessing why their file was refused. An empty input returns upload.ECORRUPT.
func Sniff(head []byte) (string, error) {
	if len(head) == 0 {
		return "", upload.Errorf(upload.ECORRUPT, "The file is empty.")
	}
	switch {
	case bytes.HasPrefix(head, []byte{0xFF, 0xD8, 0xFF}):
		return TypeJPEG, nil
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return TypePNG, nil
	case bytes.HasPrefix(head, []byte("GIF87a")), bytes.HasPrefix(head, []byte("GIF89a")):
		return TypeGIF, nil
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WEBP":
		return TypeWebP, nil
	case len(head) >= 12 && string(head[4:8]) == "ftyp":
		if ct := heifType(head); ct != "" {
			return ct, nil
		}
	}
	what := describe(head)
	if what == "" {
		return "", upload.Errorf(upload.EUNSUPPORTED, "This file is not an image we accept; %s", acceptedTypes)
	}
	return "", upload.Errorf(upload.EUNSUPPORTED, "This file is %s; %s", what, acceptedTypes)
}

// describe names the kind of a refused file, or returns "" when it cannot
// tell. The order matters: binary signatures first, then text, because a text
// sniff on binary data could match by accident.
func describe(b []byte) string {
	has := func(p string) bool { return bytes.HasPrefix(b, []byte(p)) }
	switch {
	case has("II*\x00"), has("MM\x00*"):
		return "a TIFF image"
	case has("BM") && len(b) >= 14:
		return "a BMP image"
	case has("%PDF-"):
		return "a PDF document"
	case has("PK\x03\x04"), has("PK\x05\x06"), has("PK\x07\x08"):
		return "a ZIP archive (or a document stored as one, such as DOCX or EPUB)"
	case has("\x00\x00\x01\x00"):
		return "an ICO icon"
	case has("\x00\x00\x02\x00"):
		return "a CUR cursor"
	case has("8BPS"):
		return "a Photoshop document"
	case has("\xFF\x0A"), has("\x00\x00\x00\x0CJXL \r\n\x87\n"):
		return "a JPEG XL image"
	case has("\x00\x00\x00\x0CjP  \r\n\x87\n"), has("\xFF\x4F\xFF\x51"):
		return "a JPEG 2000 image"
	case has("\x1F\x8B"):
		return "a gzip archive"
	case has("Rar!\x1A\x07"):
		return "a RAR archive"
	case has("7z\xBC\xAF\x27\x1C"):
		return "a 7-Zip archive"
	case has("\x7FELF"), has("MZ"):
		return "a program"
	case has("ID3"), has("OggS"), has("fLaC"):
		return "an audio file"
	case len(b) >= 12 && string(b[:4]) == "RIFF":
		switch string(b[8:12]) {
		case "WAVE":
			return "an audio file"
		case "AVI ":
			return "a video"
		}
		return ""
	case len(b) >= 12 && string(b[4:8]) == "ftyp":
		return "a video" // Sniff accepted every HEIF and AVIF brand already
	}
	return describeText(b)
}

// heifType tells HEIC/HEIF and AVIF (which share the MP4 container) apart
// from video by the brands in the ftyp box, or returns "". AVIF brands win
// over the generic mif1/msf1 that AVIF files list too.
func heifType(b []byte) string {
	size := int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	end := min(len(b), max(size, 12))
	brands := []string{string(b[8:12])}
	for i := 16; i+4 <= end; i += 4 { // skip minor_version at 12..16
		brands = append(brands, string(b[i:i+4]))
	}
	for _, br := range brands {
		if br == "avif" || br == "avis" {
			return TypeAVIF
		}
	}
	for _, br := range brands {
		switch br {
		case "heic", "heix", "hevc", "hevx", "heim", "heis", "hevm", "hevs":
			return TypeHEIC
		}
	}
	for _, br := range brands {
		if br == "mif1" || br == "msf1" {
			return TypeHEIF
		}
	}
	return ""
}

// describeText recognises markup by its first tag, after an optional byte
// order mark, whitespace, XML declaration and comments.
func describeText(b []byte) string {
	s := bytes.TrimPrefix(b, []byte("\xEF\xBB\xBF"))
	s = bytes.TrimLeft(s, " \t\r\n\f")
	if len(s) == 0 || s[0] != '<' {
		return ""
	}
	lower := bytes.ToLower(s)
	// An SVG usually starts with an XML declaration, a comment or a doctype,
	// so look for the root tag anywhere in the head rather than only first.
	if bytes.Contains(lower, []byte("<svg")) {
		return "an SVG drawing"
	}
	if bytes.Contains(lower, []byte("<html")) || bytes.Contains(lower, []byte("<!doctype html")) {
		return "a web page (HTML)"
	}
	for _, tag := range []string{"<head", "<body", "<script", "<iframe", "<div", "<p>", "<title", "<meta", "<a ", "<table", "<style", "<br", "<h1"} {
		if bytes.HasPrefix(lower, []byte(tag)) {
			return "a web page (HTML)"
		}
	}
	if bytes.HasPrefix(lower, []byte("<?xml")) || bytes.HasPrefix(lower, []byte("<!--")) {
		return "an XML document"
	}
	return "a text document with markup"
}
