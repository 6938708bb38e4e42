package firewall

import (
	"fmt"
	"strconv"
	"strings"
)

// maxShownValues bounds how many values of a match its text lists.
const maxShownValues = 8

var protoNames = map[uint8]string{ProtoICMP: "icmp", ProtoTCP: "tcp", ProtoUDP: "udp", ProtoICMPv6: "icmpv6", 132: "sctp", 136: "udplite"}

func protoName(p uint8) string {
	if n, ok := protoNames[p]; ok {
		return n
	}
	return strconv.Itoa(int(p))
}

// String is the match as the walk shows it, close to nft's syntax
// whichever tool wrote the rule: "tcp dport 22", "ip saddr != 10.0.0.0/8",
// "iif { eth0, eth1 }", "ct state established,related", "saddr @admins".
func (m *Match) String() string {
	field := string(m.Field)
	switch m.Field {
	case FieldSport, FieldDport:
		if m.Proto != 0 {
			field = protoName(m.Proto) + " " + field
		} else {
			field = "th " + field
		}
	case FieldAssumed:
		s := "rate or state match, assumed to hold"
		if m.Negate {
			s = "rate or state match, assumed not to hold"
		}
		if m.Assume != "" {
			s += ": " + m.Assume
		}
		return s
	case FieldRandom:
		if m.Negate {
			return "random choice (not taken)"
		}
		return "random choice"
	case FieldExtHdr, FieldFragment, FieldIPsec:
		if len(m.Names) > 0 {
			field += " " + strings.Join(m.Names, ",")
		}
		if m.Negate {
			return "not " + field
		}
		return field
	case FieldIPSet:
		s := "ipset " + m.Set + " " + strings.Join(m.Names, ",")
		if m.Negate {
			s = "! " + s
		}
		return s
	case FieldConcat:
		var parts []string
		for _, k := range m.Concat {
			parts = append(parts, string(k.Field))
		}
		field = strings.Join(parts, " . ")
	}
	op := " "
	if m.Negate {
		op = " != "
	}
	return field + op + m.values()
}

// values renders the match's values: a named set, or the values in braces
// when there are several (at most maxShownValues).
func (m *Match) values() string {
	if m.Set != "" {
		return "@" + m.Set
	}
	var vs []string
	for _, p := range m.Prefixes {
		if p.IsSingleIP() {
			vs = append(vs, p.Addr().String())
		} else {
			vs = append(vs, p.String())
		}
	}
	for _, r := range m.Ranges {
		vs = append(vs, m.rangeText(r))
	}
	vs = append(vs, m.Names...)
	if m.Field == FieldConcat {
		vs = append(vs, fmt.Sprintf("%d keys", len(m.Tuples)))
	}
	n := len(vs)
	if n > maxShownValues {
		vs = append(vs[:maxShownValues], fmt.Sprintf("… %d more", n-maxShownValues))
	}
	switch {
	case n == 0:
		return "{ }"
	case n == 1:
		return vs[0]
	case m.Field == FieldCTState || m.Field == FieldCTStatus:
		return strings.Join(vs, ",")
	}
	return "{ " + strings.Join(vs, ", ") + " }"
}

func (m *Match) rangeText(r Range) string {
	num := func(v uint32) string {
		switch m.Field {
		case FieldMark, FieldTCPFlags:
			return fmt.Sprintf("0x%x", v)
		case FieldL4Proto:
			return protoName(uint8(v))
		}
		return strconv.FormatUint(uint64(v), 10)
	}
	s := num(r.From)
	if r.To != r.From {
		s += "-" + num(r.To)
	}
	if m.Mask != 0 && (m.Field == FieldMark || m.Field == FieldTCPFlags) {
		s = fmt.Sprintf("& 0x%x == %s", m.Mask, s)
	}
	return s
}

// valueOf is the packet's value of a field where the walk is, as text;
// "" for fields that have no single value to show.
func (st *packetState) valueOf(m *Match) string {
	switch f := m.Field; f {
	case FieldIIF:
		if st.noIIF || st.IIF == "" {
			return "none"
		}
		return st.IIF
	case FieldOIF:
		if st.oif == "" {
			return "none"
		}
		return st.oif
	case FieldSaddr:
		return st.Src.String()
	case FieldDaddr:
		return st.Dst.String()
	case FieldCTOrigDaddr:
		return st.origDst.String()
	case FieldSport, FieldDport, FieldCTOrigDport:
		port := st.DPort
		switch f {
		case FieldSport:
			port = st.SPort
		case FieldCTOrigDport:
			port = st.origDPort
		}
		switch {
		case !hasPorts(st.Proto):
			return protoName(st.Proto) + ", no ports"
		case m.Proto != 0 && m.Proto != st.Proto:
			return protoName(st.Proto) + " " + strconv.Itoa(int(port))
		}
		return strconv.Itoa(int(port))
	case FieldL4Proto:
		return protoName(st.Proto)
	case FieldNfproto:
		return nfproto(st.Dst)
	case FieldCTState:
		return st.ctState()
	case FieldMark:
		return fmt.Sprintf("0x%x", st.Mark)
	case FieldTCPFlags:
		if st.Proto != ProtoTCP {
			return protoName(st.Proto)
		}
		return flagNames(st.tcpFlags)
	case FieldICMPType, FieldICMPv6Type:
		return strconv.Itoa(int(st.ICMPType))
	}
	return ""
}
