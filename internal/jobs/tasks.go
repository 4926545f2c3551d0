// Package jobs holds the asynq task types, their payloads, the enqueuer the
// web role uses, and the handlers the worker role runs.
package jobs

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
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

// RedisOpt turns REDIS_URL into asynq's connection options. A rediss://
// URL keeps certificate verification unless insecureSkipVerify is set, which
// Heroku Redis's self-signed certificate needs.
func RedisOpt(redisURL string, insecureSkipVerify bool) (asynq.RedisConnOpt, error) {
	opt, err := asynq.ParseRedisURI(redisURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	if c, ok := opt.(asynq.RedisClientOpt); ok && c.TLSConfig != nil && insecureSkipVerify {
		c.TLSConfig = &tls.Config{ServerName: c.TLSConfig.ServerName, InsecureSkipVerify: true} //nolint:gosec // asked for explicitly
		return c, nil
	}
	return opt, nil
}
