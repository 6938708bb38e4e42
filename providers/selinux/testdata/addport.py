# Test helper: adds a local port context to the semanage store under a root
# prefix (argv: root type proto low high), without reloading any policy.
import sys
import semanage as s
root, typ, proto, low, high = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
s.semanage_set_root(root)
h = s.semanage_handle_create()
s.semanage_set_reload(h, 0)
s.semanage_set_create_store(h, 0)
assert s.semanage_is_managed(h) == 1
assert s.semanage_connect(h) >= 0
assert s.semanage_begin_transaction(h) >= 0
pnum = {"tcp": s.SEMANAGE_PROTO_TCP, "udp": s.SEMANAGE_PROTO_UDP}[proto]
rc, k = s.semanage_port_key_create(h, low, high, pnum)
rc, p = s.semanage_port_create(h)
s.semanage_port_set_range(p, low, high)
s.semanage_port_set_proto(p, pnum)
rc, con = s.semanage_context_create(h)
s.semanage_context_set_user(h, con, "system_u")
s.semanage_context_set_role(h, con, "object_r")
s.semanage_context_set_type(h, con, typ)
if s.semanage_mls_enabled(h):
    s.semanage_context_set_mls(h, con, "s0")
s.semanage_port_set_con(h, p, con)
assert s.semanage_port_modify_local(h, k, p) >= 0
rc = s.semanage_commit(h)
assert rc >= 0, rc
