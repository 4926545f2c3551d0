package devstack

import (
	"net/http"
	"testing"
)

func TestStartS3Once(t *testing.T) {
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	s, err := StartS3(t.TempDir(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if _, err := StartS3(t.TempDir(), addr); err == nil {
		t.Fatal("second gateway in one process started; want an error")
	}
	resp, err := http.Get(s.Endpoint + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// Anonymous list of buckets must be refused: the gateway checks signatures.
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("anonymous GET / = %d, want 403", resp.StatusCode)
	}
}
