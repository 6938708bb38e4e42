package iptables

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/portcheck/portcheck/providers/firewall"
)

// Matches whose result depends on traffic before the connection judged
// (rates, counts, recent sources) are judged for that one new connection
// with nothing before it: limits not reached, no earlier connection, and
// the decision states that assumption. Matches that pick at random are
// followed both ways.

// assumed adds a rate or state match: it holds under the assumption,
// unless fails.
func (b *builder) assumed(fails bool, assume string) {
	b.add(firewall.Match{Field: firewall.FieldAssumed, Negate: fails, Assume: assume})
}

// limit translates -m limit --limit RATE [--limit-burst N].
func (b *builder) limit(m *extension) {
	rate, burst := "3/hour", ""
	for _, o := range m.opts {
		arg, ok := oneArg(o)
		switch {
		case !ok || o.negate:
			b.badOption(m, o)
			return
		case o.name == "--limit":
			rate = arg
		case o.name == "--limit-burst":
			burst = arg
		default:
			b.badOption(m, o)
			return
		}
	}
	text := "-m limit --limit " + rate
	if burst != "" {
		text += " --limit-burst " + burst
	}
	b.assumed(false, fmt.Sprintf("fewer than %s reach the rule (%s)", rate, text))
}

// hashlimit translates -m hashlimit --hashlimit-upto|--hashlimit-above
// RATE with its per-source or per-destination buckets.
func (b *builder) hashlimit(m *extension) {
	rate, above, mode, name := "", false, "", ""
	var text []string
	for _, o := range m.opts {
		arg, ok := oneArg(o)
		if !ok || o.negate {
			b.badOption(m, o)
			return
		}
		text = append(text, o.name+" "+arg)
		switch o.name {
		case "--hashlimit-upto", "--hashlimit":
			rate = arg
		case "--hashlimit-above":
			rate, above = arg, true
		case "--hashlimit-mode":
			mode = arg
		case "--hashlimit-name":
			name = arg
		case "--hashlimit-burst", "--hashlimit-srcmask", "--hashlimit-dstmask", "--hashlimit-htable-size",
			"--hashlimit-htable-max", "--hashlimit-htable-expire", "--hashlimit-htable-gcinterval", "--hashlimit-rate-match",
			"--hashlimit-rate-interval":
		default:
			b.badOption(m, o)
			return
		}
	}
	if rate == "" {
		b.unsupported("match %q without a rate", m.name)
		return
	}
	per := "reach the rule"
	if mode != "" {
		per = "per " + strings.ReplaceAll(mode, ",", " and ")
	}
	if name != "" {
		per += " in " + name
	}
	b.assumed(above, fmt.Sprintf("fewer than %s %s (-m hashlimit %s)", rate, per, strings.Join(text, " ")))
}

// recent translates -m recent. --set always matches and records the
// source; --rcheck and --update match a source already recorded (within
// --seconds, at least --hitcount times), which for a new connection
// with nothing before it is only the record a --set on its own way made;
// --remove matches a recorded source.
func (b *builder) recent(m *extension) {
	mode, name, hits := "", "DEFAULT", 0
	negate := false
	var text []string
	for _, o := range m.opts {
		text = append(text, optionText(o))
		switch o.name {
		case "--set", "--rcheck", "--update", "--remove":
			if mode != "" || len(o.args) != 0 {
				b.badOption(m, o)
				return
			}
			mode, negate = o.name, o.negate
		case "--name":
			arg, ok := oneArg(o)
			if !ok {
				b.badOption(m, o)
				return
			}
			name = arg
		case "--hitcount":
			arg, ok := oneArg(o)
			n, err := strconv.Atoi(arg)
			if !ok || err != nil || n < 0 {
				b.badOption(m, o)
				return
			}
			hits = n
		case "--seconds", "--reap", "--rttl", "--rsource", "--rdest", "--mask":
		default:
			b.badOption(m, o)
			return
		}
	}
	list := "recent:" + name
	switch mode {
	case "--set":
		b.rule.SetUpdates = append(b.rule.SetUpdates, list)
		if negate {
			b.add(firewall.Match{Field: firewall.FieldFragment}) // ! --set never matches
		}
	case "--rcheck", "--update":
		mt := firewall.Match{Field: firewall.FieldAssumed, Negate: !negate,
			Assume: fmt.Sprintf("the source has no earlier entry in the recent list %s (-m recent %s)", name, strings.Join(text, " "))}
		if hits <= 1 {
			// A --set on this packet's way is enough to match.
			mt.Set = list
		}
		b.add(mt)
	case "--remove":
		b.add(firewall.Match{Field: firewall.FieldAssumed, Negate: !negate,
			Assume: fmt.Sprintf("the source has no earlier entry in the recent list %s (-m recent %s)", name, strings.Join(text, " "))})
	default:
		b.unsupported("match %q without --set, --rcheck, --update or --remove", m.name)
	}
}

// connlimit translates -m connlimit --connlimit-above|--connlimit-upto N:
// with no other connection from the source, the count is this one.
func (b *builder) connlimit(m *extension) {
	n, above := -1, false
	var text []string
	for _, o := range m.opts {
		text = append(text, optionText(o))
		arg, ok := oneArg(o)
		switch o.name {
		case "--connlimit-above", "--connlimit-upto":
			v, err := strconv.Atoi(arg)
			if !ok || err != nil || v < 0 || o.negate {
				b.badOption(m, o)
				return
			}
			n, above = v, o.name == "--connlimit-above"
		case "--connlimit-mask", "--connlimit-saddr", "--connlimit-daddr":
		default:
			b.badOption(m, o)
			return
		}
	}
	if n < 0 {
		b.unsupported("match %q without a limit", m.name)
		return
	}
	// One connection: above N holds only for N = 0; up to N for N >= 1.
	holds := (above && n == 0) || (!above && n >= 1)
	b.assumed(!holds, fmt.Sprintf("no other connection from the source is open (-m connlimit %s)", strings.Join(text, " ")))
}

// quota translates -m quota --quota BYTES: it holds until used up.
func (b *builder) quota(m *extension) {
	for _, o := range m.opts {
		arg, ok := oneArg(o)
		if o.name != "--quota" || !ok {
			b.badOption(m, o)
			return
		}
		b.assumed(o.negate, fmt.Sprintf("the quota of %s bytes is not used up (-m quota --quota %s)", arg, arg))
	}
}

// statistic translates -m statistic: --mode random with a probability
// (kube-proxy's pick of an endpoint) or --mode nth: both ways are
// followed, except for probabilities 0 and 1.
func (b *builder) statistic(m *extension) {
	mode, prob, negate := "", -1.0, false
	for _, o := range m.opts {
		arg, _ := oneArg(o)
		switch o.name {
		case "--mode":
			mode = arg
		case "--probability":
			p, err := strconv.ParseFloat(arg, 64)
			if err != nil || p < 0 || p > 1 {
				b.badOption(m, o)
				return
			}
			prob, negate = p, o.negate
		case "--every", "--packet":
			negate = negate || o.negate
		default:
			b.badOption(m, o)
			return
		}
	}
	switch {
	case mode == "random" && prob == 1:
		if negate {
			b.add(firewall.Match{Field: firewall.FieldFragment}) // never
		}
	case mode == "random" && prob == 0:
		if !negate {
			b.add(firewall.Match{Field: firewall.FieldFragment}) // never
		}
	case mode == "random" || mode == "nth":
		b.add(firewall.Match{Field: firewall.FieldRandom, Negate: negate})
	default:
		b.unsupported("match %q --mode %s", m.name, mode)
	}
}

// extHeader translates the IPv6 extension header matches (-m rt, frag,
// hbh, dst, mh, ah): each tests fields of its header and fails, negated
// or not, for a packet without it, as the packets judged are.
func extHeader(name string) func(*builder, *extension) {
	return func(b *builder, m *extension) {
		if b.family != firewall.FamilyIP6 && name != "ah" {
			b.unsupported("match %q in family %s", m.name, b.family)
			return
		}
		if name == "ah" && b.family == firewall.FamilyIP {
			b.add(firewall.Match{Field: firewall.FieldL4Proto, Ranges: []firewall.Range{{From: 51, To: 51}}})
			return
		}
		b.add(firewall.Match{Field: firewall.FieldExtHdr, Names: []string{name}})
	}
}

// ipv6headerNames maps -m ipv6header --header names to the model's.
var ipv6headerNames = map[string]string{
	"hop": "hbh", "hop-by-hop": "hbh", "ipv6-opts": "dst", "dst": "dst", "route": "rt", "ipv6-route": "rt",
	"frag": "frag", "ipv6-frag": "frag", "auth": "ah", "ah": "ah", "esp": "esp", "prot": "", "proto": "",
}

// ipv6header translates -m ipv6header --header LIST --soft (the packet
// carries one of them; without --soft, exactly the listed set, which a
// plain packet with a transport header never does).
func (b *builder) ipv6header(m *extension) {
	var names []string
	soft, negate := false, false
	for _, o := range m.opts {
		switch o.name {
		case "--soft":
			soft = true
		case "--header":
			arg, ok := oneArg(o)
			if !ok {
				b.badOption(m, o)
				return
			}
			negate = o.negate
			for _, h := range strings.Split(arg, ",") {
				n, known := ipv6headerNames[h]
				if !known || n == "" || n == "esp" {
					b.badOption(m, o)
					return
				}
				names = append(names, n)
			}
		default:
			b.badOption(m, o)
			return
		}
	}
	if !soft || len(names) == 0 {
		b.unsupported("match %q without --soft", m.name)
		return
	}
	b.add(firewall.Match{Field: firewall.FieldExtHdr, Negate: negate, Names: names})
}

// rpfilter translates -m rpfilter: the reverse-path check against the
// routes (strict unless --loose).
func (b *builder) rpfilter(m *extension) {
	mt := firewall.Match{Field: firewall.FieldRPF}
	for _, o := range m.opts {
		switch o.name {
		case "--loose":
			mt.Names = append(mt.Names, "loose")
		case "--validmark":
			mt.Names = append(mt.Names, "mark")
		case "--accept-local":
			mt.Names = append(mt.Names, "local")
		case "--invert":
			mt.Negate = true
		default:
			b.badOption(m, o)
			return
		}
	}
	b.add(mt)
}

// pkttype translates -m pkttype --pkt-type unicast|broadcast|multicast.
func (b *builder) pkttype(m *extension) {
	for _, o := range m.opts {
		arg, ok := oneArg(o)
		name := map[string]string{"unicast": "host", "host": "host", "broadcast": "broadcast", "multicast": "multicast"}[strings.ToLower(arg)]
		if o.name != "--pkt-type" || !ok || name == "" {
			b.badOption(m, o)
			continue
		}
		b.add(firewall.Match{Field: firewall.FieldPktType, Negate: o.negate, Names: []string{name}})
	}
}

// policy translates -m policy --dir in|out --pol none|ipsec: the packets
// judged came in without IPsec. Other options describe the policy of an
// IPsec packet and only matter with --pol ipsec, which fails anyway.
func (b *builder) policy(m *extension) {
	pol := ""
	for _, o := range m.opts {
		arg, _ := oneArg(o)
		switch o.name {
		case "--pol":
			pol = arg
		case "--dir":
			if arg != "in" && arg != "out" {
				b.badOption(m, o)
				return
			}
		case "--strict", "--reqid", "--spi", "--proto", "--mode", "--tunnel-src", "--tunnel-dst", "--next":
		default:
			b.badOption(m, o)
			return
		}
	}
	switch pol {
	case "none":
		b.add(firewall.Match{Field: firewall.FieldIPsec, Negate: true})
	case "ipsec":
		b.add(firewall.Match{Field: firewall.FieldIPsec})
	default:
		b.unsupported("match %q without --pol", m.name)
	}
}
