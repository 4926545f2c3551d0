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
