package web

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// proxies says which hops may tell us the client's address through
// X-Forwarded-For (TRUSTED_PROXIES). Nothing is trusted by default: any
// client can write that header, and chi's RealIP, which believed its
// leftmost entry, let one client pass for as many as it liked.
type proxies struct {
	// anyPeer trusts whoever connects, as on Heroku, where only the router
	// can reach a dyno and it appends the address it was reached from.
	anyPeer bool
	nets    []netip.Prefix
}

// parseProxies reads TRUSTED_PROXIES: comma-separated CIDRs or addresses,
// and the keyword "heroku".
func parseProxies(v string) (proxies, error) {
	var p proxies
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		switch {
		case f == "":
		case strings.EqualFold(f, "heroku"):
			p.anyPeer = true
		case strings.Contains(f, "/"):
			pre, err := netip.ParsePrefix(f)
			if err != nil {
				return p, fmt.Errorf("TRUSTED_PROXIES: %q is not a CIDR such as 10.0.0.0/8", f)
			}
			p.nets = append(p.nets, pre.Masked())
		default:
			a, err := netip.ParseAddr(f)
			if err != nil {
				return p, fmt.Errorf("TRUSTED_PROXIES: %q is not an IP address, a CIDR or heroku", f)
			}
			a = a.Unmap()
			p.nets = append(p.nets, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return p, nil
}

func (p proxies) trusts(a netip.Addr) bool {
	for _, n := range p.nets {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// clientIP is the address of whoever sent r: the peer, unless the peer is
// a trusted proxy; then X-Forwarded-For is read from the right (each proxy
// appends the address it was reached from), skipping trusted proxies, and
// the first hop not trusted is the client. Entries left of it are the
// client's own word and are never read.
func (p proxies) clientIP(r *http.Request) netip.Addr {
	peer := remoteAddr(r.RemoteAddr)
	if !peer.IsValid() || !(p.anyPeer || p.trusts(peer)) {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		h := strings.TrimSpace(hops[i])
		if h == "" {
			continue
		}
		a := remoteAddr(h)
		if !a.IsValid() {
			break // garbage from further left: the last good hop is the client
		}
		client = a
		if !p.trusts(a) {
			break
		}
	}
	return client
}

// remoteAddr parses "ip", "ip:port" or "[ipv6]:port".
func remoteAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.Addr{}
	}
	return a.WithZone("").Unmap()
}

// ipKey is the rate-limit key of a client address. IPv6 is counted per
// /64, the block one subscriber usually holds: counting single addresses
// would give each client 2^64 budgets.
func ipKey(a netip.Addr) string {
	if !a.IsValid() {
		return "ip:unknown"
	}
	if a.Is6() {
		a = netip.PrefixFrom(a, 64).Masked().Addr()
	}
	var b [48]byte // "ip:" and the longest IPv6 text: one allocation, not two
	return string(a.AppendTo(append(b[:0], "ip:"...)))
}
