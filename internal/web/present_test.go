package web

import (
	"errors"
	"fmt"
	"testing"

	"uploader/internal/upload"
)

func TestCleanFilename(t *testing.T) {
	cases := map[string]string{
		"holiday.jpg":                   "holiday.jpg",
		"../../etc/passwd":              "passwd",
		`C:\Users\me\photo.png`:         "photo.png",
		"evil\u202egpj.exe":             "evilgpj.exe", // right-to-left override stripped
		"tab\tand\nnewline\x00.jpg":     "tabandnewline.jpg",
		"zero\u200bwidth.jpg":           "zerowidth.jpg",
		"":                              "upload",
		"..":                            "upload",
		"  spaced.jpg  ":                "spaced.jpg",
		"<script>alert(1)</script>.jpg": "script>.jpg", // path cut at '/', the rest is escaped on output
	}
	for in, want := range cases {
		if got := cleanFilename(in); got != want {
			t.Errorf("cleanFilename(%q) = %q, want %q", in, got, want)
		}
	}
	long := make([]rune, 400)
	for i := range long {
		long[i] = 'é'
	}
	if got := []rune(cleanFilename(string(long))); len(got) != 255 {
		t.Errorf("long name kept %d runes, want 255", len(got))
	}
}

func TestHumanBytes(t *testing.T) {
	cases := map[int64]string{31 << 20: "31 MB", 20 << 20: "20 MB", 5 << 20: "5 MB", 3 << 19: "1.5 MB", 182 << 10: "182 KB", 900: "900 bytes"}
	for n, want := range cases {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestNormalizeType(t *testing.T) {
	cases := map[string]string{"image/JPEG": "image/jpeg", "image/jpg": "image/jpeg", "image/png; charset=x": "image/png", " image/webp ": "image/webp"}
	for in, want := range cases {
		if got := normalizeType(in); got != want {
			t.Errorf("normalizeType(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestErrorStatus: the web layer only maps codes; the adapters chose them.
func TestErrorStatus(t *testing.T) {
	cases := []struct {
		err  error
		want int
	}{
		{upload.Wrap(upload.EUNAVAILABLE, "down", errors.New("dial tcp: connection refused")), 503},
		{errors.New("a bug"), 500},
		{upload.Errorf(upload.ENOTFOUND, "gone"), 404},
		{fmt.Errorf("wrapped: %w", upload.Errorf(upload.ECONFLICT, "failed for good")), 409},
	}
	for _, c := range cases {
		if got := ErrorStatus(c.err); got != c.want {
			t.Errorf("%v: %d, want %d", c.err, got, c.want)
		}
	}
}
