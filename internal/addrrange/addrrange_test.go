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

func TestPrefixes(t *testing.T) {
	for _, tc := range []struct {
		lo, hi string
		want   []string
	}{
		{"192.0.3.0", "192.0.3.255", []string{"192.0.3.0/24"}},
		{"10.0.0.5", "10.0.0.5", []string{"10.0.0.5/32"}},
		{"10.0.0.1", "10.0.0.6", []string{"10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32"}},
		{"198.51.100.0", "198.51.100.63", []string{"198.51.100.0/26"}},
		{"198.51.100.128", "198.51.101.63", []string{"198.51.100.128/25", "198.51.101.0/26"}},
		{"0.0.0.0", "255.255.255.255", []string{"0.0.0.0/0"}},
		{"255.255.255.254", "255.255.255.255", []string{"255.255.255.254/31"}},
		{"2001:db8::", "2001:db8::ffff:ffff:ffff:ffff", []string{"2001:db8::/64"}},
		{"2001:db8::1", "2001:db8::2", []string{"2001:db8::1/128", "2001:db8::2/128"}},
		{"::ffff:10.0.0.0", "::ffff:10.0.0.3", []string{"10.0.0.0/30"}},
		{"10.0.0.9", "10.0.0.8", nil},
		{"10.0.0.1", "2001:db8::1", nil},
	} {
		var got []string
		for _, p := range Prefixes(netip.MustParseAddr(tc.lo), netip.MustParseAddr(tc.hi)) {
			got = append(got, p.String())
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Prefixes(%s, %s) = %v, want %v", tc.lo, tc.hi, got, tc.want)
		}
	}
}

// Prefixes covers exactly its range: checked address by address on
// ranges of a small block.
func TestPrefixesExact(t *testing.T) {
	base := netip.MustParseAddr("10.1.2.0")
	addr := func(i int) netip.Addr {
		a := base
		for range i {
			a = a.Next()
		}
		return a
	}
	for lo := 0; lo < 40; lo++ {
		for hi := lo; hi < 40; hi++ {
			ps := Prefixes(addr(lo), addr(hi))
			for i := 0; i < 48; i++ {
				n := 0
				for _, p := range ps {
					if p.Contains(addr(i)) {
						n++
					}
				}
				if in := lo <= i && i <= hi; (in && n != 1) || (!in && n != 0) {
					t.Fatalf("Prefixes(%d, %d) = %v: address %d covered %d times", lo, hi, ps, i, n)
				}
			}
		}
	}
}
