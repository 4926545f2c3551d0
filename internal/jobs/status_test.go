package jobs

import (
	"context"
	"testing"
	"time"

	"uploader/internal/upload"
)

// TestStatusFeed: a status change written through the notifying store
// wakes a subscriber of that upload, over real Redis pub/sub, and not a
// subscriber of another upload.
func TestStatusFeed(t *testing.T) {
	e := newEnv(t)
	feed := NewStatusFeed(e.redis, e.log)
	t.Cleanup(func() { feed.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go feed.Run(ctx)

	store := Notifying(e.db, feed)
	u := e.newUpload(t, upload.StatusProcessing, time.Now(), false)
	other := e.newUpload(t, upload.StatusProcessing, time.Now(), false)
	changed, stop := feed.Subscribe(u.ID)
	defer stop()
	otherChanged, stopOther := feed.Subscribe(other.ID)
	defer stopOther()

	// The subscription starts in the background: until it is live a
	// message is lost, so write again until one arrives.
	deadline := time.After(10 * time.Second)
	for woke := false; !woke; {
		if err := store.MarkFailed(ctx, u.ID, upload.ECORRUPT, "The file is damaged."); err != nil {
			t.Fatal(err)
		}
		select {
		case <-changed:
			woke = true
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatal("no wake-up within 10 s of marking the upload failed")
		}
	}
	select {
	case <-otherChanged:
		t.Error("a change of one upload woke the stream of another")
	default:
	}
	got, err := e.db.Upload(ctx, u.ID)
	if err != nil || got.Status != upload.StatusFailed {
		t.Fatalf("the row was not written first: %v %v", got, err)
	}
}
