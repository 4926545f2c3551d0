package config

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadDefaults(t *testing.T) {
	c, err := Load(env(map[string]string{"APP_ENV": "development"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 8080 || c.UploadExpires != 10*time.Minute || c.MaxPixels != 50_000_000 || c.DataDir != "./tmp/dev" || c.DevS3Addr != "127.0.0.1:9000" {
		t.Errorf("defaults: %+v", c)
	}
	if !c.AllowAnonymous {
		t.Error("anonymous sessions should default on without API_TOKENS")
	}
	if err := c.Validate(); err != nil {
		t.Errorf("dev defaults do not validate: %v", err)
	}
	c, _ = Load(env(map[string]string{"API_TOKENS": " a, b ,,", "APP_ENV": "development"}))
	if len(c.APITokens) != 2 || c.AllowAnonymous {
		t.Errorf("tokens %q anonymous %v; want [a b] and anonymous off", c.APITokens, c.AllowAnonymous)
	}
}

// Every wrong value is reported with its variable's name.
func TestErrorsNameTheVariable(t *testing.T) {
	cases := []struct {
		env  map[string]string
		want []string
	}{
		{map[string]string{"PORT": "eighty"}, []string{"PORT"}},
		{map[string]string{"UPLOAD_EXPIRES": "ten minutes"}, []string{"UPLOAD_EXPIRES"}},
		{map[string]string{"ALLOW_ANONYMOUS": "perhaps"}, []string{"ALLOW_ANONYMOUS"}},
		{map[string]string{"APP_ENV": "development", "PORT": "70000"}, []string{"PORT"}},
		{map[string]string{"APP_ENV": "development", "UPLOAD_EXPIRES": "1s"}, []string{"UPLOAD_EXPIRES"}},
		{map[string]string{"APP_ENV": "development", "CDN_BASE_URL": "cdn.example.com"}, []string{"CDN_BASE_URL"}},
		{map[string]string{"APP_ENV": "development", "DATABASE_URL": "mysql://x"}, []string{"DATABASE_URL"}},
		{map[string]string{"APP_ENV": "development", "REDIS_URL": "localhost:6379"}, []string{"REDIS_URL"}},
		{map[string]string{"APP_ENV": "development", "LOG_LEVEL": "loud"}, []string{"LOG_LEVEL"}},
		{map[string]string{"APP_ENV": "staging"}, []string{"APP_ENV"}},
		{map[string]string{"APP_ENV": "development", "AWS_SESSION_TOKEN": "tok"}, []string{"AWS_SESSION_TOKEN"}},
		{map[string]string{"APP_ENV": "development", "AWS_ACCESS_KEY_ID": "ASIA"}, []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}},
		// Production needs its services and an explicit access decision.
		{map[string]string{"API_TOKENS": "x"}, []string{"DATABASE_URL", "REDIS_URL", "S3_BUCKET", "APP_URL"}},
		{map[string]string{"DATABASE_URL": "postgres://h/db", "REDIS_URL": "redis://h", "S3_BUCKET": "b", "APP_URL": "https://a.example", "ALLOW_ANONYMOUS": "false"}, []string{"API_TOKENS"}},
		{map[string]string{"DATABASE_URL": "postgres://h/db", "REDIS_URL": "redis://h", "S3_BUCKET": "b", "APP_URL": "https://a.example", "ALLOW_ANONYMOUS": "true"}, []string{"SESSION_SECRET"}},
	}
	for _, c := range cases {
		cfg, err := Load(env(c.env))
		if err == nil {
			err = cfg.Validate()
		}
		if err == nil {
			t.Errorf("%v: no error", c.env)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q does not name %s", c.env, err, w)
			}
		}
	}
}

func TestProductionValid(t *testing.T) {
	c, err := Load(env(map[string]string{
		"DATABASE_URL": "postgres://h/db", "REDIS_URL": "rediss://h:6380", "S3_BUCKET": "b",
		"APP_URL": "https://a.example", "API_TOKENS": "t1",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("valid production config refused: %v", err)
	}
}

// TestSessionToken: temporary keys come with AWS_SESSION_TOKEN, which must
// reach the S3 and CloudFront clients along with the keys.
func TestSessionToken(t *testing.T) {
	c, err := Load(env(map[string]string{"APP_ENV": "development",
		"AWS_ACCESS_KEY_ID": "ASIAX", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "tok"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.S3AccessKey != "ASIAX" || c.S3SecretKey != "s" || c.S3SessionToken != "tok" {
		t.Errorf("keys %q %q token %q", c.S3AccessKey, c.S3SecretKey, c.S3SessionToken)
	}
}
