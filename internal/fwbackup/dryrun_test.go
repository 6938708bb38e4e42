package fwbackup

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcheck/portcheck/internal/lab"
)

// TestDryRun: a restore plan is validated by nft's own check mode without
// changing anything: a backup of the namespace's filter passes; the same
// backup with an nft.ruleset nft refuses (intact checksums: only its
// content is wrong) fails naming the step; the ruleset is unchanged.
func TestDryRun(t *testing.T) {
	lab.Require(t, "nft", "iptables-nft-save", "iptables-legacy-save")
	l := lab.New(t)
	h := l.Host("server")
	h.NFT("table inet filter {\n  chain input {\n    type filter hook input priority 0; policy drop;\n    tcp dport 8080 accept\n  }\n}\n")
	opts := Options{Netns: h.Path(), FirewalldDir: filepath.Join(t.TempDir(), "none")}
	ctx := context.Background()
	before := nsOut(t, h.Path(), "nft", "list", "ruleset")

	snap, err := Read(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	parent := t.TempDir()
	good, err := snap.Write(parent, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for i := range snap.Files {
		if snap.Files[i].Name == NFTName {
			snap.Files[i].Data = []byte("table inet filter {\n  chain input {\n    tcp dport nope accept\n  }\n}\n")
		}
	}
	bad, err := snap.Write(parent, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		dir     string
		wantErr bool
	}{{good.Dir, false}, {bad.Dir, true}} {
		b, err := Open(tc.dir)
		if err != nil {
			t.Fatal(err)
		}
		p, err := NewPlan(ctx, opts, b)
		if err != nil {
			t.Fatal(err)
		}
		err = p.DryRun(ctx)
		var se *StepError
		switch {
		case tc.wantErr && (!errors.As(err, &se) || !strings.Contains(se.Step, "nft -f -")):
			t.Errorf("%s: dry run %v, want the nft step's error", tc.dir, err)
		case !tc.wantErr && err != nil:
			t.Errorf("%s: dry run %v, want none", tc.dir, err)
		}
		if len(p.Steps()) == 0 {
			t.Errorf("%s: no restore steps", tc.dir)
		}
	}
	if after := nsOut(t, h.Path(), "nft", "list", "ruleset"); after != before {
		t.Errorf("the dry runs changed the ruleset:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}
