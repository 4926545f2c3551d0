package config

import (
	"strings"
	"testing"
)

// The settings added against hostile clients (issue 11): defaults, and
// errors that name the variable.
func TestHostileClientSettings(t *testing.T) {
	c, err := Load(env(map[string]string{"APP_ENV": "development"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.TrustedProxies != "" {
		t.Errorf("TRUSTED_PROXIES defaults to %q; nothing may be trusted by default", c.TrustedProxies)
	}
	for _, ok := range []string{"heroku", "10.0.0.0/8, 192.0.2.7", "Heroku,2001:db8::/32"} {
		c, _ := Load(env(map[string]string{"APP_ENV": "development", "TRUSTED_PROXIES": ok}))
		if err := c.Validate(); err != nil {
			t.Errorf("TRUSTED_PROXIES=%q refused: %v", ok, err)
		}
	}
	for _, bad := range []map[string]string{
		{"TRUSTED_PROXIES": "10.0.0.0/33"},
		{"TRUSTED_PROXIES": "heroku,router.example"},
	} {
		bad["APP_ENV"] = "development"
		c, err := Load(env(bad))
		if err == nil {
			err = c.Validate()
		}
		var name string
		for k := range bad {
			if k != "APP_ENV" {
				name = k
			}
		}
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%v: error %v does not name %s", bad, err, name)
		}
	}
}

func TestListenSettings(t *testing.T) {
	c, err := Load(env(map[string]string{"APP_ENV": "development"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.StreamsPerOwner != 8 || c.StreamsPerIP != 32 {
		t.Errorf("EVENT_STREAMS_PER_OWNER %d, EVENT_STREAMS_PER_IP %d; want 8 and 32", c.StreamsPerOwner, c.StreamsPerIP)
	}
	if c.BindAddr != "" || c.BodyTimeout.String() != "10s" {
		t.Errorf("defaults: BIND_ADDR %q (uploader dev picks 127.0.0.1), HTTP_BODY_TIMEOUT %s", c.BindAddr, c.BodyTimeout)
	}
	for _, bad := range []map[string]string{
		{"BIND_ADDR": "all"},
		{"BIND_ADDR": "127.0.0.1:8080"},
		{"HTTP_BODY_TIMEOUT": "100ms"},
		{"HTTP_BODY_TIMEOUT": "soon"},
		{"EVENT_STREAMS_PER_OWNER": "0"},
		{"EVENT_STREAMS_PER_IP": "many"},
	} {
		var name string
		for k := range bad {
			name = k
		}
		bad["APP_ENV"] = "development"
		c, err := Load(env(bad))
		if err == nil {
			err = c.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%v: error %v does not name %s", bad, err, name)
		}
	}
	c, _ = Load(env(map[string]string{"APP_ENV": "development", "BIND_ADDR": "[::1]"}))
	if err := c.Validate(); err != nil || c.BindAddr != "::1" {
		t.Errorf("BIND_ADDR=[::1]: %q, %v", c.BindAddr, err)
	}
}
