package imageproc

import (
	"bytes"
	"encoding/binary"
	"flag"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"os"
	"path/filepath"
	"testing"

	"github.com/gen2brain/webp"
)

var update = flag.Bool("update", false, "rewrite the files in testdata/")

// fixtures are the files in testdata/, built here so they can be
// regenerated (go test -run TestTestdata -update) and so a reader can see
// exactly what each hostile file is.
func fixtures(t testing.TB) map[string][]byte {
	t.Helper()
	small := photo(64, 48, 1)
	jpg := encodeJPEG(t, small, 80)
	var gifBuf, webpBuf bytes.Buffer
	pal := image.NewPaletted(image.Rect(0, 0, 16, 16), color.Palette{color.Black, color.White, color.Transparent})
	pal.Pix[0] = 1
	if err := gif.Encode(&gifBuf, pal, nil); err != nil {
		t.Fatal(err)
	}
	if err := webp.Encode(&webpBuf, small, webp.Options{Quality: 75}); err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{
		"small.jpg":     jpg,
		"small.png":     encodePNG(t, small),
		"small.gif":     gifBuf.Bytes(),
		"small.webp":    webpBuf.Bytes(),
		"exif6.jpg":     withEXIF(jpg, exifTIFF(binary.BigEndian, 6, "GPSSECRET")),
		"truncated.jpg": jpg[:len(jpg)*6/10],
		"truncated.png": encodePNG(t, small)[:300],
		"drawing.svg":   []byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script><rect width="10" height="10"/></svg>` + "\n"),
		"page.jpg":      []byte("<!DOCTYPE html>\n<html><head><title>not a photo</title></head><body><img src=x onerror=alert(1)></body></html>\n"),
		"bomb.png":      pngHeader(60000, 60000),
		"bomb.jpg":      jpegHeader(60000, 60000),
		"bomb.webp":     webpVP8XHeader(16000, 16000),
		"gifbomb.gif":   gifFrames(1000, 1000, 300),
	}
}

// pngHeader is a valid PNG signature and IHDR declaring w×h RGBA pixels,
// followed by a tiny IDAT and IEND: a few dozen bytes that would decode
// into w*h*4 bytes.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		_ = binary.Write(&b, binary.BigEndian, uint32(len(data)))
		b.WriteString(typ)
		b.Write(data)
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		_ = binary.Write(&b, binary.BigEndian, crc.Sum32())
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	chunk("IEND", nil)
	return b.Bytes()
}

// jpegHeader is SOI, a quantisation table, a baseline SOF declaring w×h
// with three components and a start of scan with no scan data, then EOI.
func jpegHeader(w, h uint16) []byte {
	dqt := append([]byte{0x00}, bytes.Repeat([]byte{1}, 64)...)
	sof := []byte{8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), 3,
		1, 0x22, 0, 2, 0x11, 0, 3, 0x11, 0}
	out := []byte{0xFF, 0xD8}
	out = append(out, jpegSegment(0xDB, dqt)...)
	out = append(out, jpegSegment(0xC0, sof)...)
	out = append(out, jpegSegment(0xDA, []byte{3, 1, 0, 2, 0x11, 3, 0x11, 0, 63, 0})...)
	return append(out, 0xFF, 0xD9)
}

// webpVP8XHeader is an extended WebP header declaring a w×h canvas.
func webpVP8XHeader(w, h uint32) []byte {
	vp8x := make([]byte, 10)
	put24 := func(b []byte, v uint32) { b[0], b[1], b[2] = byte(v), byte(v>>8), byte(v>>16) }
	put24(vp8x[4:], w-1)
	put24(vp8x[7:], h-1)
	var b bytes.Buffer
	b.WriteString("RIFF")
	_ = binary.Write(&b, binary.LittleEndian, uint32(4+8+len(vp8x)))
	b.WriteString("WEBPVP8X")
	_ = binary.Write(&b, binary.LittleEndian, uint32(len(vp8x)))
	b.Write(vp8x)
	return b.Bytes()
}

// gifFrames is a GIF whose screen is w×h and which holds n full-screen
// frames, each with only a clear and an end code as data: tiny on disk, but
// n*w*h pixels to anyone who decodes every frame.
func gifFrames(w, h uint16, n int) []byte {
	var b bytes.Buffer
	b.WriteString("GIF89a")
	_ = binary.Write(&b, binary.LittleEndian, w)
	_ = binary.Write(&b, binary.LittleEndian, h)
	b.Write([]byte{0x80, 0, 0}) // global colour table of 2 entries
	b.Write([]byte{0, 0, 0, 255, 255, 255})
	for range n {
		b.WriteByte(0x2C)
		_ = binary.Write(&b, binary.LittleEndian, [4]uint16{0, 0, w, h})
		b.WriteByte(0)
		b.Write([]byte{2, 2, 0x4C, 0x01, 0}) // min code size 2; clear(4), end(5)
	}
	b.WriteByte(0x3B)
	return b.Bytes()
}

var handMade = map[string]bool{
	"drawing.svg": true, "page.jpg": true, "bomb.png": true, "bomb.jpg": true,
	"bomb.webp": true, "gifbomb.gif": true,
}

// TestTestdata keeps testdata/ in step with fixtures; run with -update to
// rewrite it.
func TestTestdata(t *testing.T) {
	for name, want := range fixtures(t) {
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -run TestTestdata -update)", err)
		}
		// Encoders may change between Go versions; only the hand-made
		// hostile files must match byte for byte.
		if !handMade[name] {
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from its generator (run go test -run TestTestdata -update)", path)
		}
	}
}
