package nftables

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/portcheck/portcheck/providers/firewall"
)

// fieldSpec is what the left side of a match (or a vmap key) reads.
type fieldSpec struct {
	field firewall.Field
	kind  kind
	// proto is the L4 protocol nft's hidden dependency requires (tcp dport:
	// meta l4proto tcp).
	proto uint8
	// nfproto is the family the expression implies ("ipv4" for ip saddr);
	// nft adds a meta nfproto dependency for it in inet tables.
	nfproto string
	mask    uint32
	// ext names the extension header (or IP option) of an exthdr
	// expression; extField is set when it reads a field of it rather
	// than its presence.
	ext      string
	extField bool
	// rpf holds the model's names for a fib oif lookup ("loose", "mark").
	rpf []string
	// mod and offset of a numgen expression.
	mod, offset uint32
}

// portProtos are the protocols whose header nft names for sport/dport; th
// (any transport header) requires none.
var portProtos = map[string]uint8{"tcp": 6, "udp": 17, "udplite": 136, "sctp": 132, "dccp": 33, "th": 0}

// field resolves a left-hand expression. It returns why the expression
// cannot be modelled, or an error when its JSON is malformed.
func (t *tableState) field(e any) (fieldSpec, string, error) {
	obj, ok := e.(map[string]any)
	if !ok {
		return fieldSpec{}, fmt.Sprintf("match on %s", describe(e)), nil
	}
	key, val, ok := single(obj)
	if !ok {
		return fieldSpec{}, "", fmt.Errorf("expression %s: want one key", describe(e))
	}
	if key == "&" {
		return t.masked(e, val)
	}
	args, ok := val.(map[string]any)
	if !ok {
		return fieldSpec{}, fmt.Sprintf("expression %q", describe(e)), nil
	}
	var spec fieldSpec
	switch key {
	case "payload":
		spec, ok = payloadField(args)
	case "meta":
		spec, ok = metaField(args)
	case "ct":
		spec, ok = t.ctField(args)
	case "fib":
		spec, ok = fibField(args)
	case "exthdr", "ip option":
		spec, ok = extField(key, args)
	case "numgen":
		spec, ok = numgenField(args)
	default:
		ok = false
	}
	if !ok {
		return fieldSpec{}, fmt.Sprintf("expression %q", describe(e)), nil
	}
	return spec, "", nil
}

func payloadField(p map[string]any) (fieldSpec, bool) {
	if len(p) != 2 { // raw payloads and inner (tunnel) headers have other keys
		return fieldSpec{}, false
	}
	proto, _ := p["protocol"].(string)
	field, _ := p["field"].(string)
	if n, ok := portProtos[proto]; ok && (field == "sport" || field == "dport") {
		f := firewall.FieldDport
		if field == "sport" {
			f = firewall.FieldSport
		}
		return fieldSpec{field: f, kind: kindPort, proto: n}, true
	}
	switch proto + " " + field {
	case "ip saddr":
		return fieldSpec{field: firewall.FieldSaddr, kind: kindAddr4, nfproto: "ipv4"}, true
	case "ip daddr":
		return fieldSpec{field: firewall.FieldDaddr, kind: kindAddr4, nfproto: "ipv4"}, true
	case "ip6 saddr":
		return fieldSpec{field: firewall.FieldSaddr, kind: kindAddr6, nfproto: "ipv6"}, true
	case "ip6 daddr":
		return fieldSpec{field: firewall.FieldDaddr, kind: kindAddr6, nfproto: "ipv6"}, true
	case "ip protocol":
		return fieldSpec{field: firewall.FieldL4Proto, kind: kindProto, nfproto: "ipv4"}, true
	case "ip6 nexthdr":
		return fieldSpec{field: firewall.FieldL4Proto, kind: kindProto, nfproto: "ipv6"}, true
	case "icmp type":
		return fieldSpec{field: firewall.FieldICMPType, kind: kindICMP, proto: firewall.ProtoICMP, nfproto: "ipv4"}, true
	case "icmpv6 type":
		return fieldSpec{field: firewall.FieldICMPv6Type, kind: kindICMPv6, proto: firewall.ProtoICMPv6, nfproto: "ipv6"}, true
	case "tcp flags":
		return fieldSpec{field: firewall.FieldTCPFlags, kind: kindTCPFlags, proto: firewall.ProtoTCP}, true
	case "ip frag-off":
		// Only under a mask that leaves the DF bit out (see masked).
		return fieldSpec{field: firewall.FieldFragment, kind: kindFragOff, nfproto: "ipv4"}, true
	}
	return fieldSpec{}, false
}

// extField handles "exthdr NAME [FIELD]" (IPv6 extension headers) and "ip
// option NAME [FIELD]": the packets judged carry none.
func extField(key string, args map[string]any) (fieldSpec, bool) {
	name, _ := args["name"].(string)
	if name == "" {
		return fieldSpec{}, false
	}
	spec := fieldSpec{field: firewall.FieldExtHdr, kind: kindBool, ext: name, nfproto: "ipv6"}
	if key == "ip option" {
		spec.ext, spec.nfproto = "ip option "+name, "ipv4"
	}
	if _, ok := args["field"]; ok {
		spec.extField = true
	}
	return spec, true
}

// numgenField handles "numgen random|inc mod N [offset O]".
func numgenField(args map[string]any) (fieldSpec, bool) {
	mode, _ := args["mode"].(string)
	mod, why := kindNumber(args["mod"], math.MaxUint32)
	if (mode != "random" && mode != "inc") || why != "" || mod == 0 {
		return fieldSpec{}, false
	}
	spec := fieldSpec{field: firewall.FieldNumgen, kind: kindMark, mod: mod}
	if o, ok := args["offset"]; ok {
		if spec.offset, why = kindNumber(o, math.MaxUint32); why != "" {
			return fieldSpec{}, false
		}
	}
	return spec, true
}

func metaField(m map[string]any) (fieldSpec, bool) {
	if len(m) != 1 {
		return fieldSpec{}, false
	}
	key, _ := m["key"].(string)
	switch key {
	case "iif":
		return fieldSpec{field: firewall.FieldIIF, kind: kindIfindex}, true
	case "oif":
		return fieldSpec{field: firewall.FieldOIF, kind: kindIfindex}, true
	case "iifname":
		return fieldSpec{field: firewall.FieldIIF, kind: kindIfname}, true
	case "oifname":
		return fieldSpec{field: firewall.FieldOIF, kind: kindIfname}, true
	case "l4proto":
		return fieldSpec{field: firewall.FieldL4Proto, kind: kindProto}, true
	case "nfproto":
		return fieldSpec{field: firewall.FieldNfproto, kind: kindNfproto}, true
	case "protocol":
		return fieldSpec{field: firewall.FieldNfproto, kind: kindEtherType}, true
	case "mark":
		return fieldSpec{field: firewall.FieldMark, kind: kindMark}, true
	case "pkttype":
		return fieldSpec{field: firewall.FieldPktType, kind: kindPktType}, true
	case "ipsec", "secpath":
		return fieldSpec{field: firewall.FieldIPsec, kind: kindBool}, true
	}
	return fieldSpec{}, false
}

// ctField handles ct state and the original-direction destination. The
// kernel stops the rule when the connection's family differs from the
// address's, which the nfproto dependency expresses.
func (t *tableState) ctField(c map[string]any) (fieldSpec, bool) {
	key, _ := c["key"].(string)
	dir, _ := c["dir"].(string)
	family, _ := c["family"].(string)
	if key == "state" && len(c) == 1 {
		return fieldSpec{field: firewall.FieldCTState, kind: kindCTState}, true
	}
	if key == "status" && len(c) == 1 {
		return fieldSpec{field: firewall.FieldCTStatus, kind: kindCTStatus}, true
	}
	if dir != "original" {
		return fieldSpec{}, false
	}
	if key == "proto-dst" && family == "" {
		return fieldSpec{field: firewall.FieldCTOrigDport, kind: kindPort}, true
	}
	// "ct original ip daddr" lists as key "ip daddr"; "ct original daddr"
	// (family from an ip/ip6 table) as key "daddr", optionally with family.
	if fam, k, ok := strings.Cut(key, " "); ok && family == "" {
		family, key = fam, k
	}
	if family == "" {
		family = t.table.Family
	}
	if key != "daddr" {
		return fieldSpec{}, false
	}
	switch family {
	case firewall.FamilyIP:
		return fieldSpec{field: firewall.FieldCTOrigDaddr, kind: kindAddr4, nfproto: "ipv4"}, true
	case firewall.FamilyIP6:
		return fieldSpec{field: firewall.FieldCTOrigDaddr, kind: kindAddr6, nfproto: "ipv6"}, true
	}
	return fieldSpec{}, false
}

// fibField handles fib saddr/daddr type and the reverse-path lookup "fib
// saddr [. mark] [. iif] oif" (compared with missing/exists); other
// lookups answer questions the model has no field for.
func fibField(f map[string]any) (fieldSpec, bool) {
	if len(f) != 2 {
		return fieldSpec{}, false
	}
	flags := stringList(f["flags"])
	switch f["result"] {
	case "type":
		switch {
		case slices.Equal(flags, []string{"daddr"}):
			return fieldSpec{field: firewall.FieldDaddrType, kind: kindAddrType}, true
		case slices.Equal(flags, []string{"saddr"}):
			return fieldSpec{field: firewall.FieldSaddrType, kind: kindAddrType}, true
		}
	case "oif", "oifname":
		spec := fieldSpec{field: firewall.FieldRPF, kind: kindBool, rpf: []string{"loose"}}
		for _, fl := range flags {
			switch fl {
			case "saddr":
			case "iif":
				spec.rpf = slices.DeleteFunc(spec.rpf, func(s string) bool { return s == "loose" })
			case "mark":
				spec.rpf = append(spec.rpf, "mark")
			default:
				return fieldSpec{}, false
			}
		}
		if !slices.Contains(flags, "saddr") {
			return fieldSpec{}, false
		}
		return spec, true
	}
	return fieldSpec{}, false
}

// masked handles "meta mark & MASK", "tcp flags & MASK" and "ip frag-off
// & 0x1fff"; a mask on anything else has no model.
func (t *tableState) masked(e, val any) (fieldSpec, string, error) {
	operands, ok := val.([]any)
	if !ok || len(operands) != 2 {
		return fieldSpec{}, "", fmt.Errorf("expression %s: want two operands", describe(e))
	}
	spec, why, err := t.field(operands[0])
	if err != nil || why != "" {
		return spec, why, err
	}
	var mask uint32
	bad := ""
	switch spec.field {
	case firewall.FieldTCPFlags:
		mask, bad = kindTCPFlags.number(operands[1])
	case firewall.FieldMark:
		mask, bad = kindNumber(operands[1], numeric[kindMark].max)
	case firewall.FieldFragment:
		// frag-off & 0x1fff (the offset) or 0x3fff (offset and more
		// fragments): is the packet a fragment, whatever its DF bit.
		mask, bad = kindNumber(operands[1], 0xffff)
		if mask != 0x1fff && mask != 0x3fff {
			bad = "mask"
		}
	default:
		bad = "field"
	}
	if spec.mask != 0 || bad != "" || mask == 0 {
		return fieldSpec{}, fmt.Sprintf("expression %q", describe(e)), nil
	}
	spec.mask = mask
	return spec, "", nil
}

// single unpacks a one-key object such as {"accept": null}.
func single(obj map[string]any) (string, any, bool) {
	if len(obj) != 1 {
		return "", nil, false
	}
	for k, v := range obj {
		return k, v, true
	}
	return "", nil, false
}

// stringList reads a string or a list of strings (nft prints a single
// flag unwrapped).
func stringList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil
			}
			out = append(out, s)
		}
		return out
	}
	return nil
}

// describe renders an expression roughly as nft prints it, to name it in
// Unsupported texts and errors.
func describe(e any) string {
	switch x := e.(type) {
	case nil:
		return "null"
	case string:
		return x
	case json.Number:
		return x.String()
	case []any:
		parts := make([]string, len(x))
		for i, p := range x {
			parts[i] = describe(p)
		}
		return strings.Join(parts, ",")
	case map[string]any:
		key, val, ok := single(x)
		if !ok {
			return "object"
		}
		return describeObject(key, val)
	}
	return fmt.Sprint(e)
}

func describeObject(key string, val any) string {
	args, _ := val.(map[string]any)
	list, _ := val.([]any)
	switch key {
	case "payload":
		if p, ok := args["protocol"]; ok {
			return describe(p) + " " + describe(args["field"])
		}
		return fmt.Sprintf("@%s,%s,%s", describe(args["base"]), describe(args["offset"]), describe(args["len"]))
	case "meta", "socket", "osf", "rt":
		return key + " " + describe(args["key"])
	case "tcp option", "ip option", "sctp chunk", "exthdr":
		if f, ok := args["field"]; ok {
			return key + " " + describe(args["name"]) + " " + describe(f)
		}
		return key + " " + describe(args["name"])
	case "ct":
		parts := []string{"ct"}
		for _, k := range []string{"dir", "family", "key"} {
			if v, ok := args[k]; ok {
				parts = append(parts, describe(v))
			}
		}
		return strings.Join(parts, " ")
	case "fib":
		return "fib " + strings.Join(stringList(args["flags"]), " . ") + " " + describe(args["result"])
	case "concat":
		parts := make([]string, len(list))
		for i, p := range list {
			parts[i] = describe(p)
		}
		return strings.Join(parts, " . ")
	case "&", "|", "^", "<<", ">>":
		if len(list) == 2 {
			return describe(list[0]) + " " + key + " " + describe(list[1])
		}
	case "prefix":
		return describe(args["addr"]) + "/" + describe(args["len"])
	case "range":
		if len(list) == 2 {
			return describe(list[0]) + "-" + describe(list[1])
		}
	case "set":
		return "{ " + describe(val) + " }"
	case "map":
		return describe(args["key"]) + " map " + describe(args["data"])
	case "elem":
		return describe(args["val"])
	}
	return key
}
