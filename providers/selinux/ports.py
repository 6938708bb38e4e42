# Lists the SELinux port contexts of a semanage store as JSON, for
# providers/selinux (embedded in the Go binary and run with the interpreter
# of the semanage script, which has the libsemanage bindings).
# argv[1]: optional root prefix (semanage_set_root, like semodule -p).
import sys, json
import semanage as s
root = sys.argv[1] if len(sys.argv) > 1 else ""
if root:
    s.semanage_set_root(root)
h = s.semanage_handle_create()
if not h:
    sys.exit("could not create semanage handle")
if not s.semanage_is_managed(h):
    sys.exit("SELinux policy is not managed or the store cannot be accessed")
if s.semanage_access_check(h) < s.SEMANAGE_CAN_READ:
    sys.exit("cannot read the policy store")
if s.semanage_connect(h) < 0:
    sys.exit("could not connect to the policy store")
out = []
for local, fn in ((False, s.semanage_port_list), (True, s.semanage_port_list_local)):
    rc, ports = fn(h)
    if rc < 0:
        sys.exit("could not list ports")
    for p in ports:
        con = s.semanage_port_get_con(p)
        out.append({"low": s.semanage_port_get_low(p), "high": s.semanage_port_get_high(p),
                    "proto": s.semanage_port_get_proto_str(s.semanage_port_get_proto(p)),
                    "type": s.semanage_context_get_type(con), "local": local})
s.semanage_disconnect(h)
json.dump(out, sys.stdout)
