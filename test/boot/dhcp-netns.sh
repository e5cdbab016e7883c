#!/bin/sh
# Runs inside a fresh network and mount namespace (test/boot/dhcp.test.ts starts it with unshare):
# Debian's dnsmasq serves DHCP, TFTP and DNS with the given configuration on one end of a veth
# pair, and Debian's dhclient asks for a lease on the other end once per case, under the case's
# MAC, as BIOS PXE firmware, UEFI firmware or iPXE would (the options dnsmasq tells them apart by).
# Prints one line per case: "lease MAC key=value ..." with what the server offered; then "dns NAME
# ADDRESS" for each name asked of dnsmasq's DNS.
#   dhcp-netns.sh CONF WORK SERVER_IP "MAC:KIND ..." "NAME ..."
# KIND: bios (no options), efi (client architecture 7), ipxe (iPXE's option 175).
set -eu
# shellcheck source=test/boot/netns-common.sh
. "$(dirname "$0")/netns-common.sh"
conf=$1 work=$2 server_ip=$3 cases=$4 names=$5

ip link set lo up
ip link add srv type veth peer name cli
ip addr add "$server_ip/24" dev srv
ip link set srv up
private_tftp_root

start_dnsmasq "$conf" srv "$work"
# Nothing outlives the script: dnsmasq, and the dhclient of a case stopped half way.
client_pid=
cleanup() {
  kill "$dnsmasq_pid" 2>/dev/null || true
  if [ -n "$client_pid" ]; then kill "$client_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
# dnsmasq answers DNS once it has bound its sockets.
for _ in $(seq 50); do
  [ -s "$work/dnsmasq.pid" ] && break
  sleep 0.1
done

# dhclient's script: the offered values, as a line.
cat > "$work/hook.sh" <<'EOF'
#!/bin/sh
if [ "$reason" = BOUND ]; then
  echo "lease $mac ip=$new_ip_address host=$new_host_name domain=$new_domain_name routers=$new_routers dns=$new_domain_name_servers ntp=$new_ntp_servers broadcast=$new_broadcast_address file=$new_filename next=$new_next_server" >> "$out"
fi
EOF
chmod +x "$work/hook.sh"

for case in $cases; do
  mac=${case%:*}
  kind=${case##*:}
  ip link set cli down
  ip link set cli address "$mac"
  ip link set cli up
  {
    echo "initial-interval 1;"
    echo "request subnet-mask, broadcast-address, routers, domain-name, domain-name-servers, host-name, ntp-servers;"
    case $kind in
      ipxe) echo "option ipxe-encapsulated code 175 = string; send ipxe-encapsulated 01:01:01;" ;;
      efi) echo "option client-architecture code 93 = unsigned integer 16; send client-architecture 7;" ;;
      bios) ;;
      *) echo "unknown kind $kind" >&2; exit 2 ;;
    esac
  } > "$work/dhclient.conf"
  # In the foreground (-d), one try (-1): stopped once its script has printed the lease.
  timeout 30 dhclient -d -1 -cf "$work/dhclient.conf" -sf "$work/hook.sh" \
    -lf "$work/dhclient.$mac.leases" -pf "$work/dhclient.pid" -e mac="$mac" -e out="$work/out" cli \
    2>> "$work/dhclient.log" &
  client_pid=$!
  for _ in $(seq 300); do
    grep -q "^lease $mac " "$work/out" 2>/dev/null && break
    kill -0 "$client_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill "$client_pid" 2>/dev/null || true
  wait "$client_pid" 2>/dev/null || true
  client_pid=
  grep -q "^lease $mac " "$work/out" 2>/dev/null || echo "lease $mac failed" >> "$work/out"
  ip addr flush dev cli
done
cat "$work/out"

for name in $names; do
  echo "dns $name $(DNS_SERVER=$server_ip NAME=$name "$NODE" -e '
    const { Resolver } = require("node:dns").promises;
    const r = new Resolver({ timeout: 2000, tries: 1 });
    r.setServers([process.env.DNS_SERVER]);
    r.resolve4(process.env.NAME).then((a) => console.log(a.join(",")), (e) => console.log(e.code));
  ')"
done
