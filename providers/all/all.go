// Package all links every built-in provider into a binary; each registers
// itself in init, so cmd/ needs this one import instead of a list.
package all

import (
	_ "github.com/portcheck/portcheck/providers/app"
	_ "github.com/portcheck/portcheck/providers/collect"
	_ "github.com/portcheck/portcheck/providers/firewall/netfilter"
	_ "github.com/portcheck/portcheck/providers/path"
	_ "github.com/portcheck/portcheck/providers/probe"
	_ "github.com/portcheck/portcheck/providers/selinux"
	_ "github.com/portcheck/portcheck/providers/sockets"

	// Cloud backends (L6), one line each.
	_ "github.com/portcheck/portcheck/providers/cloud/aliyun"
	_ "github.com/portcheck/portcheck/providers/cloud/aws"
)
