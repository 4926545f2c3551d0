// Package jobs holds the asynq task types, their payloads, the enqueuer the
// web role uses, and the handlers the worker role runs.
package jobs

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"uploader/internal/upload"
)

// TypeProcess is the task that turns an uploaded object into variants.
const TypeProcess = "image:process"

// MaxRetry is how often a transient failure (S3, database) is retried
// before the upload is marked failed.
const MaxRetry = 8

// ProcessPayload is the body of an image:process task. It carries only the
// upload ID: every object key is derived from it, so a payload can never
// point the worker outside the upload's own keys.
type ProcessPayload struct {
	UploadID string `json:"upload_id"`
	Profile  string `json:"profile"`
}

// NewProcessTask returns the task for one upload. The task ID is the upload
// ID, so asynq refuses a second copy while the first exists.
func NewProcessTask(id string, p upload.Profile) (*asynq.Task, error) {
	body, err := json.Marshal(ProcessPayload{UploadID: id, Profile: p.Name})
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeProcess, body,
		asynq.TaskID(id),
		asynq.Queue(QueueOf(p)),
		asynq.MaxRetry(MaxRetry),
		asynq.Timeout(5*time.Minute),
	), nil
}

// QueueOf is the queue a profile's jobs go to.
func QueueOf(p upload.Profile) string {
	if p.Queue == "" {
		return "default"
	}
	return p.Queue
}

// Queues gives every queue the profiles use a priority for the worker.
// Queues named after small outputs (avatars) get a higher weight so that
// they do not wait behind large photos.
func Queues(ps upload.Profiles) map[string]int {
	qs := map[string]int{"default": 1}
	for _, p := range ps {
		q := QueueOf(p)
		w := 3
		if q == "avatars" {
			w = 6
		}
		qs[q] = w
	}
	return qs
}

// RedisOpt turns REDIS_URL into asynq's connection options. It accepts
//
//	redis://[:PASSWORD@]HOST:PORT[/DB]     one Redis server
//	redis-sentinel://[:PASSWORD@]HOST:PORT[,HOST:PORT…][/DB]?master=NAME[&sentinel_password=PW]
//	                                       the master a group of Sentinels names,
//	                                       followed through failovers
//	redis-cluster://[:PASSWORD@]HOST:PORT[,HOST:PORT…]
//	                                       a Redis Cluster, found from its seed nodes
//
// and rediss://, rediss-sentinel:// and rediss-cluster:// for the same over
// TLS. The password is the Redis servers' (as in redis://); Sentinels with a
// password of their own take sentinel_password. TLS keeps certificate
// verification unless insecureSkipVerify is set, which Heroku Redis's
// self-signed certificate needs.
//
// Errors never repeat the URL, which may hold a password.
func RedisOpt(redisURL string, insecureSkipVerify bool) (asynq.RedisConnOpt, error) {
	// net/url cannot parse a host list whose first hosts lack a port
	// ("h1,h2:7000" parses, "h1:7000,h2" does not): parse the URL with one
	// stand-in host and keep the list aside.
	hosts, parsable := "", redisURL
	if scheme, rest, ok := strings.Cut(redisURL, "://"); ok {
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		at := strings.LastIndex(rest[:end], "@") + 1
		hosts = rest[at:end]
		parsable = scheme + "://" + rest[:at] + "host" + rest[end:]
	}
	u, err := url.Parse(parsable)
	if err != nil || hosts == "" && u.Scheme != "redis-socket" {
		return nil, errors.New("REDIS_URL: not a URL such as redis://127.0.0.1:6379/0")
	}
	kind, secure := u.Scheme, false
	if rest, ok := strings.CutPrefix(kind, "rediss"); ok {
		kind, secure = "redis"+rest, true
	}
	var tlsConfig *tls.Config
	if secure {
		// No ServerName: each connection checks the name of the host it
		// dials, which matters when a URL lists several.
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecureSkipVerify} //nolint:gosec // only when asked for
	}
	password, _ := u.User.Password()
	switch kind {
	case "redis", "redis-socket":
		if strings.Contains(hosts, ",") {
			return nil, errors.New("REDIS_URL: redis:// takes one host; use redis-sentinel:// or redis-cluster:// for several")
		}
		opt, err := asynq.ParseRedisURI(redisURL)
		if err != nil {
			return nil, errors.New("REDIS_URL: use redis://[:PASSWORD@]HOST:PORT[/DB]")
		}
		if c, ok := opt.(asynq.RedisClientOpt); ok && c.TLSConfig != nil && insecureSkipVerify {
			c.TLSConfig = &tls.Config{ServerName: c.TLSConfig.ServerName, InsecureSkipVerify: true} //nolint:gosec // asked for explicitly
			return c, nil
		}
		return opt, nil
	case "redis-sentinel":
		addrs, err := hostList(hosts, "26379")
		if err != nil {
			return nil, err
		}
		db, err := redisDB(u.Path)
		if err != nil {
			return nil, err
		}
		q := u.Query()
		if q.Get("master") == "" {
			return nil, errors.New("REDIS_URL: redis-sentinel:// needs ?master=NAME, the name the Sentinels monitor")
		}
		return asynq.RedisFailoverClientOpt{
			MasterName: q.Get("master"), SentinelAddrs: addrs, SentinelPassword: q.Get("sentinel_password"),
			Username: u.User.Username(), Password: password, DB: db, TLSConfig: tlsConfig,
		}, nil
	case "redis-cluster":
		addrs, err := hostList(hosts, "6379")
		if err != nil {
			return nil, err
		}
		if db, err := redisDB(u.Path); err != nil || db != 0 {
			return nil, errors.New("REDIS_URL: Redis Cluster has only database 0: leave the path out of redis-cluster://")
		}
		return asynq.RedisClusterClientOpt{
			Addrs: addrs, Username: u.User.Username(), Password: password, TLSConfig: tlsConfig,
		}, nil
	}
	return nil, fmt.Errorf("REDIS_URL: scheme %q: use redis://, rediss://, redis-sentinel:// or redis-cluster://", u.Scheme)
}

// hostList splits a comma-separated HOST[:PORT] list, giving each address
// without a port defPort.
func hostList(hosts, defPort string) ([]string, error) {
	var addrs []string
	for _, h := range strings.Split(hosts, ",") {
		if h == "" {
			return nil, errors.New("REDIS_URL: an empty host in the list: use HOST:PORT,HOST:PORT")
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(h, defPort)
		}
		addrs = append(addrs, h)
	}
	return addrs, nil
}

// redisDB reads the database number from a URL path such as "/2".
func redisDB(path string) (int, error) {
	p := strings.Trim(path, "/")
	if p == "" {
		return 0, nil
	}
	db, err := strconv.Atoi(p)
	if err != nil || db < 0 {
		return 0, errors.New("REDIS_URL: the path is the database number, e.g. /0")
	}
	return db, nil
}
