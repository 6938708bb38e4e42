package nftables

import (
	"regexp"
	"strconv"
	"strings"
)

// listing is what the text output of `nft -a -s list ruleset` adds to the
// JSON: each rule as nft prints it, and iptables-nft's ownership warnings.
type listing struct {
	rules       map[ruleKey]string
	iptablesNft map[tableKey]bool
}

type ruleKey struct {
	table  tableKey
	chain  string
	handle int
}

var (
	handleRe  = regexp.MustCompile(`^\t\t(.*)\s# handle (\d+)$`)
	warningRe = regexp.MustCompile(`^# Warning: table (\S+) (\S+) is managed by iptables-nft, do not touch!$`)
)

// parseListing reads nft's tab-indented listing: "table F N {" at column 0,
// "\tchain C {" one tab in, its rules two tabs in, "\t}" closing a chain (or
// a set, whose lines have no handle).
func parseListing(text []byte) listing {
	l := listing{rules: map[ruleKey]string{}, iptablesNft: map[tableKey]bool{}}
	var table tableKey
	var chain string
	for _, line := range strings.Split(string(text), "\n") {
		f := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "table ") && len(f) >= 3:
			table, chain = tableKey{f[1], f[2]}, ""
		case strings.HasPrefix(line, "\tchain ") && len(f) >= 2:
			chain = f[1]
		case line == "\t}":
			chain = ""
		case warningRe.MatchString(line):
			m := warningRe.FindStringSubmatch(line)
			l.iptablesNft[tableKey{m[1], m[2]}] = true
		case chain != "":
			if m := handleRe.FindStringSubmatch(line); m != nil {
				if h, err := strconv.Atoi(m[2]); err == nil {
					l.rules[ruleKey{table, chain, h}] = strings.TrimSpace(m[1])
				}
			}
		}
	}
	return l
}
