package nftables

import (
	"strings"
)

// renderRule writes a rule's statements roughly as nft lists them, for
// Rule.Text when the text listing was not read (big rulesets, where a
// second listing costs seconds). It is evidence for a reader, not input:
// nothing parses it.
func renderRule(exprs []any) string {
	parts := make([]string, 0, len(exprs))
	for _, e := range exprs {
		obj, _ := e.(map[string]any)
		key, val, ok := single(obj)
		if !ok {
			continue
		}
		if s := renderStatement(key, val); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, " ")
}

func renderStatement(key string, val any) string {
	args, _ := val.(map[string]any)
	switch key {
	case "match":
		return renderMatch(args["left"], describe(args["op"]), args["right"])
	case "accept", "drop", "return", "continue", "queue", "notrack":
		return key
	case "jump", "goto":
		return key + " " + describe(args["target"])
	case "counter":
		return "counter"
	case "log":
		if p, ok := args["prefix"]; ok {
			return `log prefix "` + describe(p) + `"`
		}
		return "log"
	case "reject":
		typ, _ := args["type"].(string)
		switch {
		case typ == "":
			return "reject"
		case typ == "tcp reset":
			return "reject with tcp reset"
		case args["expr"] != nil:
			return "reject with " + typ + " " + describe(args["expr"])
		}
		return "reject with " + typ
	case "dnat", "snat", "redirect", "masquerade":
		s := key
		if f, ok := args["family"]; ok {
			s += " " + describe(f)
		}
		addr, hasAddr := args["addr"]
		port, hasPort := args["port"]
		switch {
		case hasAddr && hasPort && strings.Contains(renderValue(addr), ":"):
			s += " to [" + renderValue(addr) + "]:" + renderValue(port)
		case hasAddr && hasPort:
			s += " to " + renderValue(addr) + ":" + renderValue(port)
		case hasAddr:
			s += " to " + renderValue(addr)
		case hasPort:
			s += " to :" + renderValue(port)
		}
		if fl := stringList(args["flags"]); len(fl) > 0 {
			s += " " + strings.Join(fl, ",")
		}
		return s
	case "vmap":
		return describe(args["key"]) + " vmap " + renderValue(args["data"])
	case "limit":
		if name, ok := val.(string); ok {
			return "limit name " + name
		}
		inv, _ := args["inv"].(bool)
		return "limit rate " + overText(inv) + limitText(args)
	case "quota":
		inv, _ := args["inv"].(bool)
		return "quota " + overText(inv) + describe(args["val"]) + " " + describe(args["val_unit"])
	case "ct count":
		inv, _ := args["inv"].(bool)
		return "ct count " + overText(inv) + describe(args["val"])
	case "meter":
		stmt, _ := args["stmt"].(map[string]any)
		k, v, _ := single(stmt)
		return "meter " + describe(args["name"]) + " { " + describe(args["key"]) + " " + renderStatement(k, v) + " }"
	case "mangle":
		return describe(args["key"]) + " set " + renderValue(args["value"])
	case "ct helper":
		return `ct helper set "` + describe(val) + `"`
	case "set", "map":
		return describe(args["op"]) + " " + describe(args[key]) + " { " + describe(args["elem"]) + " }"
	case "xt":
		return "xt " + describe(args["type"]) + " " + describe(args["name"])
	case "flow":
		return "flow add " + describe(args["flowtable"])
	}
	return key
}

func renderMatch(left any, op string, right any) string {
	l := strings.TrimPrefix(describe(left), "meta ")
	switch l {
	case "iif", "oif", "iifname", "oifname", "pkttype":
	default:
		l = describe(left)
	}
	var r string
	if b, ok := right.(bool); ok {
		if b != (op == "!=") {
			return l + " exists"
		}
		return l + " missing"
	}
	if l == "iif" || l == "oif" || strings.HasSuffix(l, "ifname") {
		r = renderNames(right)
	} else {
		r = renderValue(right)
	}
	masked := false
	if m, ok := left.(map[string]any); ok {
		_, masked = m["&"]
	}
	switch {
	case op == "==" && masked:
	case op == "==", op == "in", op == "", op == "null":
		return l + " " + r
	}
	return l + " " + op + " " + r
}

// renderNames quotes interface names as nft does.
func renderNames(v any) string {
	switch x := v.(type) {
	case string:
		return `"` + x + `"`
	case map[string]any:
		if list, ok := x["set"].([]any); ok {
			parts := make([]string, len(list))
			for i, p := range list {
				parts[i] = renderNames(p)
			}
			return "{ " + strings.Join(parts, ", ") + " }"
		}
	}
	return renderValue(v)
}

func renderValue(v any) string {
	obj, ok := v.(map[string]any)
	if !ok {
		return describe(v)
	}
	key, val, ok := single(obj)
	if !ok {
		return describe(v)
	}
	switch key {
	case "set":
		list, isList := val.([]any)
		if !isList {
			list = []any{val}
		}
		parts := make([]string, len(list))
		for i, p := range list {
			if pair, ok := p.([]any); ok && len(pair) == 2 {
				vo, _ := pair[1].(map[string]any)
				vk, vv, _ := single(vo)
				parts[i] = renderValue(pair[0]) + " : " + renderStatement(vk, vv)
				continue
			}
			parts[i] = renderValue(p)
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	case "elem":
		e, _ := val.(map[string]any)
		return renderValue(e["val"])
	}
	return describe(v)
}
