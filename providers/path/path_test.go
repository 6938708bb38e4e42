package path

import (
	"testing"

	"github.com/portcheck/portcheck/providers"
)

func TestRegistered(t *testing.T) {
	p, ok := providers.Lookup("traceroute")
	if !ok {
		t.Fatal("traceroute not registered")
	}
	if p.Layer() != providers.LayerPath {
		t.Errorf("layer %v", p.Layer())
	}
}

func TestCapEff(t *testing.T) {
	for _, c := range []struct {
		status string
		want   bool
	}{
		{"Name:\tx\nCapEff:\t000001ffffffffff\n", true},
		{"CapEff:\t0000000000000000\n", false},
		{"CapEff:\t0000000000002000\n", true},
		{"CapEff:\t0000000000001000\n", false},
	} {
		got, err := capEffHas(c.status, capNetRaw)
		if err != nil || got != c.want {
			t.Errorf("%q: %v, %v; want %v", c.status, got, err, c.want)
		}
	}
	if _, err := capEffHas("Name:\tx\n", capNetRaw); err == nil {
		t.Error("no CapEff line: want an error")
	}
}

func TestParamsDefaults(t *testing.T) {
	p, err := Params{}.withDefaults()
	if err != nil || p.Mode != "tcp" || p.MaxHops != 30 || p.Rounds != 10 || p.Timeout != DefaultTimeout || p.Interval != defaultInterval(10) {
		t.Errorf("%+v %v", p, err)
	}
	if _, err := (Params{Mode: "sctp"}).withDefaults(); err == nil {
		t.Error("sctp: want an error")
	}
}

func TestChecksum(t *testing.T) {
	s := &icmpSock{id: 0x1234}
	b := s.echo(1)
	if checksum(b) != 0 {
		t.Errorf("echo checksum does not verify: %x", checksum(b))
	}
}

func TestAvailableFollowsCapNetRaw(t *testing.T) {
	p, _ := providers.Lookup("traceroute")
	ok, err := hasNetRaw()
	if err != nil {
		t.Fatal(err)
	}
	err = p.Available(providers.Exec{})
	if ok && err != nil {
		t.Errorf("with CAP_NET_RAW: %v", err)
	}
	if !ok && (err == nil || err.Error() != capHint) {
		t.Errorf("without CAP_NET_RAW: %v, want %q", err, capHint)
	}
	t.Logf("CAP_NET_RAW=%v Available=%v", ok, err)
}
