package imageproc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"uploader/internal/upload"
)

func TestSniff(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	accepted := []struct {
		name, file, want string
	}{
		{"jpeg", "small.jpg", TypeJPEG},
		{"png", "small.png", TypePNG},
		{"gif", "small.gif", TypeGIF},
		{"webp", "small.webp", TypeWebP},
	}
	for _, tc := range accepted {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Sniff(read(tc.file))
			if err != nil || got != tc.want {
				t.Fatalf("Sniff = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	// HEIF brands: what iPhones (heic), libheif (mif1 first), libavif and
	// libvips write. heif_test.go sniffs files the real tools made.
	for _, tc := range []struct{ name, head, want string }{
		{"heic", "\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", TypeHEIC},
		{"heix", "\x00\x00\x00\x18ftypheix\x00\x00\x00\x00mif1heix", TypeHEIC},
		{"heic behind mif1", "\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic", TypeHEIC},
		{"heif mif1", "\x00\x00\x00\x10ftypmif1\x00\x00\x00\x00", TypeHEIF},
		{"heif msf1", "\x00\x00\x00\x14ftypmsf1\x00\x00\x00\x00msf1", TypeHEIF},
		{"avif", "\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf", TypeAVIF},
		{"avif behind mif1", "\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1avifmiaf", TypeAVIF},
		{"avis", "\x00\x00\x00\x1cftypavis\x00\x00\x00\x00avisavifmsf1", TypeAVIF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := Sniff([]byte(tc.head)); err != nil || got != tc.want {
				t.Fatalf("Sniff = %q, %v; want %q", got, err, tc.want)
			}
		})
	}

	refused := []struct {
		name string
		head []byte
		code string
		says string // a word the message must contain
	}{
		{"empty", nil, upload.ECORRUPT, "empty"},
		{"svg", read("drawing.svg"), upload.EUNSUPPORTED, "SVG drawing"},
		{"svg without declaration", []byte(`<svg xmlns="http://www.w3.org/2000/svg"></svg>`), upload.EUNSUPPORTED, "SVG"},
		{"svg after bom and comment", []byte("\xEF\xBB\xBF  <!-- made by hand -->\n<SVG/>"), upload.EUNSUPPORTED, "SVG"},
		{"html renamed .jpg", read("page.jpg"), upload.EUNSUPPORTED, "web page (HTML)"},
		{"html fragment", []byte("<body onload=x()>"), upload.EUNSUPPORTED, "HTML"},
		{"xml", []byte(`<?xml version="1.0"?><feed/>`), upload.EUNSUPPORTED, "XML document"},
		{"pdf", []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3"), upload.EUNSUPPORTED, "PDF"},
		{"tiff little-endian", []byte("II*\x00\x08\x00\x00\x00"), upload.EUNSUPPORTED, "TIFF"},
		{"tiff big-endian", []byte("MM\x00*\x00\x00\x00\x08"), upload.EUNSUPPORTED, "TIFF"},
		{"bmp", append([]byte("BM"), make([]byte, 52)...), upload.EUNSUPPORTED, "BMP"},
		{"mp4", []byte("\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"), upload.EUNSUPPORTED, "video"},
		{"zip", []byte("PK\x03\x04\x14\x00\x00\x00"), upload.EUNSUPPORTED, "ZIP"},
		{"ico", []byte("\x00\x00\x01\x00\x01\x00\x10\x10"), upload.EUNSUPPORTED, "ICO"},
		{"psd", []byte("8BPS\x00\x01"), upload.EUNSUPPORTED, "Photoshop"},
		{"jpeg xl", []byte("\xFF\x0A\xFA\x7F"), upload.EUNSUPPORTED, "JPEG XL"},
		{"wav", []byte("RIFF\x24\x00\x00\x00WAVEfmt "), upload.EUNSUPPORTED, "audio"},
		{"plain text", []byte("hello, world"), upload.EUNSUPPORTED, "not an image we accept"},
		{"random bytes", []byte{0x13, 0x37, 0, 1, 2, 3}, upload.EUNSUPPORTED, "not an image we accept"},
		{"jpeg magic cut short", []byte{0xFF, 0xD8}, upload.EUNSUPPORTED, "not an image we accept"},
		{"riff without webp", []byte("RIFF\x00\x00\x00\x00WEB"), upload.EUNSUPPORTED, "not an image we accept"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			ct, err := Sniff(tc.head)
			wantCode(t, err, tc.code)
			if ct != "" {
				t.Errorf("content type = %q alongside an error", ct)
			}
			msg := upload.ErrorMessage(err)
			if !strings.Contains(msg, tc.says) {
				t.Errorf("message %q does not say %q", msg, tc.says)
			}
			if tc.code == upload.EUNSUPPORTED && !strings.HasSuffix(msg, "only JPEG, PNG, GIF, WebP, HEIC/HEIF and AVIF images are accepted.") {
				t.Errorf("message %q does not say what is accepted", msg)
			}
		})
	}
}

func TestSniffMessageExample(t *testing.T) {
	_, err := Sniff([]byte(`<svg/>`))
	want := "This file is an SVG drawing; only JPEG, PNG, GIF, WebP, HEIC/HEIF and AVIF images are accepted."
	if got := upload.ErrorMessage(err); got != want {
		t.Fatalf("message = %q, want %q", got, want)
	}
}
