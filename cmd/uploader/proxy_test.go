package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// This file is a fault injector for tests only: a TCP proxy on loopback
// that sits between the app and one of its services (S3, Postgres) and,
// on demand, refuses, resets, stalls or answers 500 instead of passing
// bytes through. Tests use it to play outages that a real service would
// only show by accident.

// fault is what the proxy does to a connection or an HTTP request.
type fault int

const (
	faultPass   fault = iota // forward untouched
	faultReset               // close at once with a TCP RST
	faultStall               // accept, read, never answer (until released or closed)
	fault500                 // answer an S3-style 500 InternalError (HTTP only)
	faultDenied              // answer an S3-style 403 AccessDenied (HTTP only)
)

func (f fault) String() string {
	return [...]string{"pass", "reset", "stall", "500", "denied"}[f]
}

// faultProxy forwards 127.0.0.1:port to target. In TCP mode every new
// connection gets the current mode. faultReset also cuts the connections
// already open, as a restart of the service does, so pooled connections
// notice the outage too; faultStall instead freezes them (nothing more is
// forwarded until the mode changes), as a network partition does. With an
// HTTP rule, the proxy reads each request and asks the rule what to do with
// it (the mode, when not faultPass, overrides the rule).
type faultProxy struct {
	t      testing.TB
	ln     net.Listener
	target string
	rule   func(r *http.Request) fault

	mu      sync.Mutex
	mode    fault
	conns   map[net.Conn]struct{}
	release chan struct{} // closed to end every stalled request
	closed  bool

	wg       sync.WaitGroup
	faulted  atomic.Int64 // requests or connections that got a fault
	accepted atomic.Int64
}

// startFaultProxy listens on a free loopback port and forwards to target.
// rule may be nil for a plain TCP proxy. It stops when the test ends.
func startFaultProxy(t testing.TB, target string, rule func(*http.Request) fault) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{t: t, ln: ln, target: target, rule: rule, conns: map[net.Conn]struct{}{}, release: make(chan struct{})}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

// Addr is host:port of the proxy.
func (p *faultProxy) Addr() string { return p.ln.Addr().String() }

// setMode changes what new connections (and, in HTTP mode, new requests)
// get. Any mode but faultPass cuts the open connections; faultPass releases stalls.
func (p *faultProxy) setMode(m fault) {
	p.mu.Lock()
	p.mode = m
	var cut []net.Conn
	if m != faultPass && m != faultStall { // a stall freezes open connections instead
		for c := range p.conns {
			cut = append(cut, c)
		}
	} else {
		close(p.release)
		p.release = make(chan struct{})
	}
	p.mu.Unlock()
	for _, c := range cut {
		proxyHardClose(c)
	}
}

// releaseStalls ends every stalled request by closing its connection, as
// a client or load balancer timing out would.
func (p *faultProxy) releaseStalls() {
	p.mu.Lock()
	close(p.release)
	p.release = make(chan struct{})
	p.mu.Unlock()
}

func (p *faultProxy) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.release)
	var all []net.Conn
	for c := range p.conns {
		all = append(all, c)
	}
	p.mu.Unlock()
	p.ln.Close()
	for _, c := range all {
		c.Close()
	}
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.t.Errorf("fault proxy: connections still open 10s after close")
	}
}

func (p *faultProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *faultProxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *faultProxy) current() (fault, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mode, p.release
}

func (p *faultProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.accepted.Add(1)
		if !p.track(c) {
			c.Close()
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.untrack(c)
			if p.rule != nil {
				p.serveHTTP(c)
			} else {
				p.serveTCP(c)
			}
		}()
	}
}

// proxyHardClose closes with SO_LINGER 0, so the peer sees a faultReset rather than
// an orderly end of stream.
func proxyHardClose(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// stallConn holds c open, swallowing what it sends, until released or
// closed.
func (p *faultProxy) stallConn(c net.Conn, release chan struct{}) {
	go io.Copy(io.Discard, c)
	select {
	case <-release:
	case <-time.After(5 * time.Minute): // bound even a forgotten faultStall
	}
	proxyHardClose(c)
}

func (p *faultProxy) serveTCP(c net.Conn) {
	mode, release := p.current()
	switch mode {
	case faultReset, fault500:
		p.faulted.Add(1)
		proxyHardClose(c)
		return
	case faultStall:
		p.faulted.Add(1)
		p.stallConn(c, release)
		return
	}
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		proxyHardClose(c)
		return
	}
	if !p.track(up) {
		up.Close()
		return
	}
	defer p.untrack(up)
	done := make(chan struct{}, 2)
	go func() { p.copy(up, c); proxyCloseWrite(up); done <- struct{}{} }()
	go func() { p.copy(c, up); proxyCloseWrite(c); done <- struct{}{} }()
	<-done
	<-done
}

// copy forwards src to dst; while the mode is faultStall, bytes read are
// held back, so open connections freeze as in a network partition.
func (p *faultProxy) copy(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			for {
				mode, release := p.current()
				if mode != faultStall {
					break
				}
				select {
				case <-release:
				case <-time.After(5 * time.Minute):
					return
				}
				p.mu.Lock()
				closed := p.closed
				p.mu.Unlock()
				if closed {
					return
				}
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func proxyCloseWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}

// serveHTTP reads requests one by one from c and forwards each to the
// target over one upstream connection, unless the rule (or the mode) says
// to fault it.
func (p *faultProxy) serveHTTP(c net.Conn) {
	br := bufio.NewReader(c)
	var up net.Conn
	var ubr *bufio.Reader
	defer func() {
		if up != nil {
			p.untrack(up)
		}
	}()
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		mode, release := p.current()
		// Answer Expect: 100-continue here, so that the upstream's interim
		// answer is never taken for the response (Expect is not signed).
		if strings.EqualFold(req.Header.Get("Expect"), "100-continue") {
			req.Header.Del("Expect")
			io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\n")
		}
		f := mode
		if f == faultPass {
			f = p.rule(req)
		}
		switch f {
		case faultReset:
			p.faulted.Add(1)
			proxyHardClose(c)
			return
		case faultStall:
			p.faulted.Add(1)
			p.stallConn(c, release)
			return
		case faultDenied:
			p.faulted.Add(1)
			io.Copy(io.Discard, io.LimitReader(req.Body, 64<<20))
			body := "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied (injected by the test's fault proxy)</Message></Error>"
			head := "HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\nConnection: close\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
			if req.Method == http.MethodHead {
				body = "" // a HEAD answer has no body; S3 then says only 403
			}
			io.WriteString(c, head+body)
			return
		case fault500:
			p.faulted.Add(1)
			io.Copy(io.Discard, io.LimitReader(req.Body, 64<<20))
			body := "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code><Message>injected by the test's fault proxy</Message></Error>"
			io.WriteString(c, "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/xml\r\nConnection: close\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body)
			return
		}
		if up == nil {
			up, err = net.DialTimeout("tcp", p.target, 5*time.Second)
			if err != nil {
				proxyHardClose(c)
				return
			}
			if !p.track(up) {
				up.Close()
				up = nil
				return
			}
			ubr = bufio.NewReader(up)
		}
		// Request.Write sends what ReadRequest parsed, signed headers included.
		if err := req.Write(up); err != nil {
			return
		}
		resp, err := http.ReadResponse(ubr, req)
		if err != nil {
			return
		}
		err = resp.Write(c)
		resp.Body.Close()
		if err != nil || resp.Close || req.Close {
			return
		}
	}
}

// proxyCountingRule returns a rule that applies f to the requests match accepts,
// from the (from)th to the (to)th such request (1-based, inclusive), and
// passes everything else; n reports how many matched.
func proxyCountingRule(match func(*http.Request) bool, f fault, from, to int64) (rule func(*http.Request) fault, n *atomic.Int64) {
	n = new(atomic.Int64)
	return func(r *http.Request) fault {
		if !match(r) {
			return faultPass
		}
		if k := n.Add(1); k >= from && k <= to {
			return f
		}
		return faultPass
	}, n
}

// proxyS3Op tells which object an S3 request (path-style) touches: the method
// and the key after the bucket.
func proxyS3Op(r *http.Request) (method, key string) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	if _, key, ok := strings.Cut(path, "/"); ok {
		return r.Method, key
	}
	return r.Method, ""
}
