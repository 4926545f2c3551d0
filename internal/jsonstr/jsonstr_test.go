package jsonstr

import (
	"encoding/json"
	"testing"
)

// TestAppendMatchesMarshal: every string, plain or not, comes out as
// json.Marshal writes it.
func TestAppendMatchesMarshal(t *testing.T) {
	for _, s := range []string{"", "photo.jpg", `a"b`, `back\slash`, "<script>&", "tab\there", "naïve 写真", "\x7f\x00", "bad \xff utf-8"} {
		want, _ := json.Marshal(s)
		if got := Append([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("Append(%q) = %s, want x%s", s, got, want)
		}
	}
}

func FuzzAppend(f *testing.F) {
	f.Add("photo.jpg")
	f.Add("<&>\"\\\u2028")
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := Append(nil, s); string(got) != string(want) {
			t.Errorf("Append(%q) = %s, want %s", s, got, want)
		}
	})
}
