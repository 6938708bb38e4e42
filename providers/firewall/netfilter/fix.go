package netfilter

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/portcheck/portcheck/providers/firewall"
	"github.com/portcheck/portcheck/providers/firewall/docker"
)

// Fix and Selector are the model's: what a fix command is and the
// traffic it covers.
type (
	Fix      = firewall.Fix
	Selector = firewall.Selector
)

// CommandIn makes a command run in the network namespace at netnsPath;
// see firewall.CommandIn.
func CommandIn(netnsPath, command string) string { return firewall.CommandIn(netnsPath, command) }

// RuleCommand is the command that makes the host accept (action
// firewall.Accept) or drop (firewall.Drop) the first packet of p's
// connection from sel's sources, in the tool that manages the host's
// rules and at the place that decides the packet today: before the rule
// that stops it or after the policy that does, in that rule's table and
// chain. ok is false when nothing needs changing (the packet already gets
// that verdict) or when routing, not a rule, decides. It is the typed way
// for other layers (L4) to give a fix that runs on this host as printed.
func (s *Snapshot) RuleCommand(p firewall.Packet, sel Selector, action, netnsPath string) (Fix, bool) {
	d := s.Evaluator().Evaluate(p)
	switch {
	case action == firewall.Accept && d.Seen() != firewall.Accept && d.Verdict != firewall.Indeterminate:
		return s.AcceptFix(d, sel, netnsPath)
	case action == firewall.Drop && d.Seen() == firewall.Accept:
		return s.DropFix(d, sel, netnsPath)
	}
	return Fix{}, false
}

// AcceptFix is the command that lets the packet of decision d in, d being
// a drop or reject by a rule or policy.
func (s *Snapshot) AcceptFix(d firewall.Decision, sel Selector, netnsPath string) (Fix, bool) {
	ref := d.Rule
	if ref == nil {
		return Fix{}, false
	}
	port := sel.Port
	if d.DNATPort != 0 && d.Hook != firewall.HookPrerouting {
		port = int(d.DNATPort) // the rule sees the port after DNAT
	}
	in := func(cmd string) string { return CommandIn(netnsPath, cmd) }
	if d.DNATAddr.IsValid() && docker.Present(&s.Ruleset) {
		if ref.Chain == "DOCKER-USER" {
			return Fix{Command: in(fmt.Sprintf("%s -D DOCKER-USER %d", iptablesCmd(ref), ref.Number)),
				Note: fmt.Sprintf("Docker's published port is stopped in DOCKER-USER by rule #%d (%s): remove or narrow it", ref.Number, ref.Text)}, true
		}
		return Fix{Command: in(fmt.Sprintf("%s -I DOCKER-USER%s -p %s -m conntrack --ctorigdstport %d -j ACCEPT", iptablesCmd(ref), iptSrc(sel), sel.Proto, sel.Port)),
			Note: "a published Docker port is decided in FORWARD, not INPUT"}, true
	}
	if s.Manager == ManagerFirewalld && ref.Table == "firewalld" && s.Firewalld != nil {
		zone := s.Firewalld.ZoneFor(d.IIF, sourceOf(sel))
		if sel.Sources.IsValid() {
			return Fix{Command: in(fmt.Sprintf(`firewall-cmd --permanent --zone=%s --add-rich-rule='rule family="%s" source address="%s" port port="%d" protocol="%s" accept'`,
				zone, familyWord(sel.Sources.Addr()), sel.Sources, sel.Port, sel.Proto)) + " && " + in("firewall-cmd --reload")}, true
		}
		return Fix{Command: in(fmt.Sprintf("firewall-cmd --permanent --zone=%s --add-port=%d/%s", zone, sel.Port, sel.Proto)) + " && " + in("firewall-cmd --reload")}, true
	}
	switch ref.Backend {
	case firewall.BackendIptablesNft, firewall.BackendIptablesLegacy:
		cmd := iptablesCmd(ref) + iptTable(ref)
		rule := fmt.Sprintf("%s -p %s --dport %d -j ACCEPT", iptSrc(sel), sel.Proto, port)
		if ref.Policy != "" {
			return Fix{Command: in(fmt.Sprintf("%s -A %s%s", cmd, ref.Chain, rule)), Note: "then persist it, e.g. " + iptablesCmd(ref) + "-save"}, true
		}
		return Fix{Command: in(fmt.Sprintf("%s -I %s %d%s", cmd, ref.Chain, ref.Number, rule)), Note: fmt.Sprintf("before rule #%d: %s", ref.Number, ref.Text)}, true
	}
	sel.Port = port
	rule := nftSelector(sel) + " accept"
	if ref.Policy != "" {
		return Fix{Command: in(fmt.Sprintf("nft add rule %s %s %s %s", ref.Family, ref.Table, ref.Chain, rule)), Note: "and add it to /etc/nftables.conf"}, true
	}
	return Fix{Command: in(fmt.Sprintf("nft insert rule %s %s %s position %d %s", ref.Family, ref.Table, ref.Chain, ref.Handle, rule)),
		Note: fmt.Sprintf("before handle %d: %s; and add it to /etc/nftables.conf", ref.Handle, ref.Text)}, true
}

// DropFix is the command that stops the packet of decision d, d being
// accepted: a drop before the rule that accepts it, or at the top of the
// chain whose policy does.
func (s *Snapshot) DropFix(d firewall.Decision, sel Selector, netnsPath string) (Fix, bool) {
	ref := d.Rule
	if ref == nil {
		return Fix{}, false
	}
	in := func(cmd string) string { return CommandIn(netnsPath, cmd) }
	if s.Manager == ManagerFirewalld && ref.Table == "firewalld" && s.Firewalld != nil {
		zone := s.Firewalld.ZoneFor(d.IIF, sourceOf(sel))
		return Fix{Command: in(fmt.Sprintf("firewall-cmd --permanent --zone=%s --remove-port=%d/%s", zone, sel.Port, sel.Proto)) + " && " + in("firewall-cmd --reload"),
			Note: fmt.Sprintf("zone %s opens it; a service that includes the port must be removed too", zone)}, true
	}
	switch ref.Backend {
	case firewall.BackendIptablesNft, firewall.BackendIptablesLegacy:
		pos := 1
		if ref.Policy == "" {
			pos = ref.Number
		}
		return Fix{Command: in(fmt.Sprintf("%s%s -I %s %d%s -p %s --dport %d -j DROP", iptablesCmd(ref), iptTable(ref), ref.Chain, pos, iptSrc(sel), sel.Proto, sel.Port)),
			Note: "then persist it, e.g. " + iptablesCmd(ref) + "-save"}, true
	}
	rule := nftSelector(sel) + " drop"
	if ref.Policy != "" {
		return Fix{Command: in(fmt.Sprintf("nft insert rule %s %s %s %s", ref.Family, ref.Table, ref.Chain, rule)), Note: "and add it to /etc/nftables.conf"}, true
	}
	return Fix{Command: in(fmt.Sprintf("nft insert rule %s %s %s position %d %s", ref.Family, ref.Table, ref.Chain, ref.Handle, rule)),
		Note: fmt.Sprintf("before handle %d: %s; and add it to /etc/nftables.conf", ref.Handle, ref.Text)}, true
}

// ReplyFix is the command that lets the replies of accepted connections
// out where decision d's reply is stopped: accept established traffic at
// the top of that chain (of FORWARD, or DOCKER-USER when that stops it),
// or, in a chain before conntrack where nothing is established, the
// service's replies by port. port is the service's port as the reply
// leaves it.
func (s *Snapshot) ReplyFix(d firewall.Decision, proto string, port int, netnsPath string) (Fix, bool) {
	ref := d.Rule
	if ref == nil {
		return Fix{}, false
	}
	in := func(cmd string) string { return CommandIn(netnsPath, cmd) }
	early := s.beforeConntrack(ref, d.Hook)
	switch ref.Backend {
	case firewall.BackendIptablesNft, firewall.BackendIptablesLegacy:
		cmd := iptablesCmd(ref) + iptTable(ref)
		chain := strings.ToUpper(d.Hook)
		if ref.Chain == "DOCKER-USER" {
			chain = ref.Chain
		}
		persist := "then persist it, e.g. " + iptablesCmd(ref) + "-save"
		if early {
			return Fix{Command: in(fmt.Sprintf("%s -I %s 1 -p %s --sport %d -j ACCEPT", cmd, chain, proto, port)),
				Note: fmt.Sprintf("%s %s runs before conntrack, where no packet is established yet: let the service's replies out by port; %s", ref.Table, ref.Chain, persist)}, true
		}
		return Fix{Command: in(fmt.Sprintf("%s -I %s 1 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT", cmd, chain)),
			Note: "accept established traffic before " + ruleName(ref) + "; " + persist}, true
	}
	rule := "ct state established,related accept"
	if early {
		rule = fmt.Sprintf("%s sport %d accept", proto, port)
	}
	where := ""
	if ref.Policy == "" && ref.Handle != 0 {
		where = fmt.Sprintf(" position %d", ref.Handle)
	}
	note := "accept established traffic before " + ruleName(ref) + "; and add it to /etc/nftables.conf"
	if early {
		note = "the chain runs before conntrack, where no packet is established yet: let the service's replies out by port; and add it to /etc/nftables.conf"
	}
	return Fix{Command: in(fmt.Sprintf("nft insert rule %s %s %s%s %s", ref.Family, ref.Table, ref.Chain, where, rule)), Note: note}, true
}

// beforeConntrack reports whether the base chain of ref runs before
// conntrack in hook (priority below -200 in output or prerouting), where
// nothing is established.
func (s *Snapshot) beforeConntrack(ref *firewall.RuleRef, hook string) bool {
	if hook != firewall.HookOutput && hook != firewall.HookPrerouting {
		return false
	}
	for _, t := range s.Ruleset.Tables {
		if t.Backend != ref.Backend || t.Family != ref.Family || t.Name != ref.Table {
			continue
		}
		for _, ch := range t.Chains {
			if ch.Name == ref.Chain && ch.Hook == hook {
				return ch.Type != "nat" && ch.Priority < -200
			}
		}
	}
	return false
}

// ruleName is a rule or a chain's policy, for a note.
func ruleName(ref *firewall.RuleRef) string {
	if ref.Policy != "" {
		return fmt.Sprintf("the %s chain's policy %s", ref.Chain, ref.Policy)
	}
	if ref.Handle != 0 {
		return fmt.Sprintf("handle %d (%s)", ref.Handle, ref.Text)
	}
	return fmt.Sprintf("rule #%d (%s)", ref.Number, ref.Text)
}

func iptablesCmd(ref *firewall.RuleRef) string {
	cmd := "iptables"
	if ref.Family == firewall.FamilyIP6 {
		cmd = "ip6tables"
	}
	if ref.Backend == firewall.BackendIptablesLegacy {
		return cmd + "-legacy"
	}
	return cmd
}

func iptTable(ref *firewall.RuleRef) string {
	if ref.Table == "filter" {
		return ""
	}
	return " -t " + ref.Table
}

func iptSrc(sel Selector) string {
	if !sel.Sources.IsValid() {
		return ""
	}
	return " -s " + sel.Sources.String()
}

// nftSelector is "[ip saddr P] tcp dport N" for the selector.
func nftSelector(sel Selector) string {
	s := fmt.Sprintf("%s dport %d", sel.Proto, sel.Port)
	if sel.Sources.IsValid() {
		fam := "ip"
		if sel.Sources.Addr().Is6() {
			fam = "ip6"
		}
		s = fmt.Sprintf("%s saddr %s %s", fam, sel.Sources, s)
	}
	return s
}

func sourceOf(sel Selector) netip.Addr {
	if sel.Src.IsValid() || !sel.Sources.IsValid() {
		return sel.Src
	}
	return sel.Sources.Addr()
}

func familyWord(a netip.Addr) string {
	if a.Is6() {
		return "ipv6"
	}
	return "ipv4"
}
