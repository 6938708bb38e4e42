package addrrange

import (
	"net/netip"
	"slices"
	"testing"
)

func TestLast(t *testing.T) {
	for p, want := range map[string]string{
		"10.1.2.0/24": "10.1.2.255", "0.0.0.0/0": "255.255.255.255", "10.1.2.3/32": "10.1.2.3",
		"10.1.2.3/24": "10.1.2.255", "fd00::/64": "fd00::ffff:ffff:ffff:ffff",
	} {
		if got := Last(netip.MustParsePrefix(p)); got != netip.MustParseAddr(want) {
			t.Errorf("Last(%s) = %s, want %s", p, got, want)
		}
	}
}

func TestCuts(t *testing.T) {
	c := Within(netip.MustParsePrefix("10.1.0.0/16"))
	c.Prefix(netip.MustParsePrefix("10.1.2.0/24"))                              // inside: two cuts
	c.Prefix(netip.MustParsePrefix("10.0.0.0/8"))                               // contains the range: no cut
	c.Prefix(netip.MustParsePrefix("10.1.255.0/24"))                            // at the end: only its start
	c.Range(netip.MustParseAddr("10.1.7.7"), netip.MustParseAddr("10.1.7.7"))   // one address
	c.Range(netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.9")) // outside
	want := []netip.Addr{}
	for _, a := range []string{"10.1.0.0", "10.1.2.0", "10.1.3.0", "10.1.7.7", "10.1.7.8", "10.1.255.0"} {
		want = append(want, netip.MustParseAddr(a))
	}
	if got := c.Addrs(); !slices.Equal(got, want) {
		t.Errorf("cuts %v, want %v", got, want)
	}
}
