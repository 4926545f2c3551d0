package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// Tests of issue 11: what an anonymous or hostile client can do to a
// running `uploader dev`, sent from outside as such a client would.

// TestAdminRefusesCrossSiteForms: a page on another site posts a form to
// the queue dashboard; the browser attaches the admin's cached basic-auth
// credentials. The queue must not be paused. The same request from the
// dashboard's own page works, so the refusal is the origin check's.
func TestAdminRefusesCrossSiteForms(t *testing.T) {
	a := startApp(t, map[string]string{"ADMIN_USER": "admin", "ADMIN_PASSWORD": "correct-horse-battery"})
	pause := func(site, origin string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", a.base+"/admin/queues/api/queues/photos:pause", strings.NewReader("x=1"))
		req.SetBasicAuth("admin", "correct-horse-battery")
		// What a browser sends with a form another site submits.
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", site)
		req.Header.Set("Sec-Fetch-Mode", "navigate")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := pause("cross-site", "https://evil.example"); st != http.StatusForbidden {
		t.Errorf("cross-site form POST with admin credentials: %d, want 403", st)
	}
	// An older browser without Fetch Metadata: the Origin alone decides.
	if st := pause("", "https://evil.example"); st != http.StatusForbidden {
		t.Errorf("cross-origin POST (Origin only) with admin credentials: %d, want 403", st)
	}
	// asynq refuses to pause a paused queue: the dashboard's own pause
	// succeeding shows that the cross-site ones did nothing.
	if st := pause("same-origin", a.base); st != http.StatusNoContent {
		t.Errorf("same-origin pause: %d, want 204 (a cross-site form already paused the queue?)", st)
	}
	if st := pause("same-origin", a.base); st != http.StatusInternalServerError {
		t.Errorf("second pause: %d, want asynq's 500 'already paused'", st)
	}
}
