package web

import "sync"

// StatusWatcher wakes an event stream when its upload's row changes (the
// worker publishes each change on Redis). Without one, streams poll.
type StatusWatcher interface {
	Subscribe(id string) (<-chan struct{}, func())
}

// streamGate counts the open event streams per owner and per client IP,
// so one visitor cannot hold an unbounded number of connections (each one
// a goroutine and a database read now and then).
type streamGate struct {
	mu              sync.Mutex
	perOwner, perIP int
	open            map[string]int
}

func newStreamGate(perOwner, perIP int) *streamGate {
	if perOwner <= 0 {
		perOwner = 8
	}
	if perIP <= 0 {
		perIP = 32
	}
	return &streamGate{perOwner: perOwner, perIP: perIP, open: map[string]int{}}
}

// enter admits a stream of owner from ip, or says which limit it hit. The
// release function must be called when the stream ends.
func (g *streamGate) enter(owner, ip string) (release func(), full string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	ok, ik := "owner:"+owner, ip
	switch {
	case g.open[ik] >= g.perIP:
		return nil, "address"
	case g.open[ok] >= g.perOwner:
		return nil, "owner"
	}
	g.open[ok]++
	g.open[ik]++
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			defer g.mu.Unlock()
			for _, k := range []string{ok, ik} {
				if g.open[k]--; g.open[k] <= 0 {
					delete(g.open, k)
				}
			}
		})
	}, ""
}

// watch subscribes to id's changes; without a watcher the channel never
// fires and the stream relies on its timer.
func (s *Server) watch(id string) (<-chan struct{}, func()) {
	if s.status == nil {
		return nil, func() {}
	}
	return s.status.Subscribe(id)
}
