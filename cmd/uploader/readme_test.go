package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"uploader/internal/testenv"
)

// readmeCurl returns the README's shell block under "From the shell".
func readmeCurl(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(packageDir, "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	i := strings.Index(s, "From the shell")
	if i < 0 {
		t.Fatal(`README.md has no "From the shell" section`)
	}
	s = s[i:]
	start := strings.Index(s, "```sh\n")
	if start < 0 {
		t.Fatal("no ```sh block after \"From the shell\"")
	}
	s = s[start+len("```sh\n"):]
	end := strings.Index(s, "```")
	if end < 0 {
		t.Fatal("the README's shell block does not end")
	}
	return s[:end]
}

// TestREADMECurl runs the README's curl example exactly as written, with
// real curl and jq, against the app started by run: in open dev mode (what
// `make dev` starts) and with an API token. It must end with the upload
// ready.
func TestREADMECurl(t *testing.T) {
	var missing error
	for _, tool := range []string{"bash", "curl", "jq", "convert"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = err
		}
	}
	testenv.Require(t, "bash, curl, jq and ImageMagick's convert", missing)
	block := readmeCurl(t)
	for _, c := range []struct {
		name string
		env  map[string]string // the app's
		sh   []string          // the shell's
	}{
		{"open dev mode", nil, nil},
		{"with an API token", map[string]string{"API_TOKENS": "readme-token"}, []string{"TOKEN=readme-token"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := startApp(t, c.env)
			dir := t.TempDir()
			if out, err := exec.Command("convert", "-size", "900x600", "gradient:navy-gold", "-quality", "90", filepath.Join(dir, "photo.jpg")).CombinedOutput(); err != nil {
				t.Fatalf("convert: %v\n%s", err, out)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, "bash", "-e", "-c", block)
			cmd.Dir = dir
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "API=" + a.base}, c.sh...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("the README's block failed: %v\n%s", err, out)
			}
			// The block ends with `jq .` of the upload: an indented object.
			text := string(out)
			i := strings.LastIndex(text, "\n{\n")
			if i < 0 {
				t.Fatalf("the output does not end with the upload's JSON:\n%s", text)
			}
			var s status
			if err := json.Unmarshal([]byte(text[i+1:]), &s); err != nil {
				t.Fatalf("the last output is not JSON: %v\n%s", err, text)
			}
			if s.Status != "ready" || len(s.Variants) == 0 || !strings.Contains(text[i:], `"status": "ready"`) {
				t.Errorf("the README's example ended %q with %d variants, want ready:\n%s", s.Status, len(s.Variants), text)
			}
		})
	}
}
