# Sourced by the scripts that run in a namespace of their own (dhcp-netns.sh, pxe-netns.sh).

# The dnsmasq configuration names the bootstrapper's TFTP root (/var/lib/tftpboot); this mount
# namespace gets an empty /var/lib of its own to hold it, leaving the machine's alone.
private_tftp_root() {
  mount --make-rprivate /
  mount -t tmpfs tmpfs /var/lib
  mkdir /var/lib/tftpboot
}

# start_dnsmasq CONF INTERFACE WORK: dnsmasq with ccts's configuration on INTERFACE, its pid,
# leases and log (every DHCP option it sends) in WORK; its process id in $dnsmasq_pid.
# --user= --group=: stay the user it was started as (in a user namespace it could not switch).
start_dnsmasq() {
  dnsmasq --keep-in-foreground --conf-file="$1" --interface="$2" --bind-interfaces \
    --pid-file="$3/dnsmasq.pid" --dhcp-leasefile="$3/dnsmasq.leases" \
    --log-facility="$3/dnsmasq.log" --log-dhcp --user= --group= &
  # shellcheck disable=SC2034 # read by the scripts that source this file
  dnsmasq_pid=$!
}

# Whoever calls this needs sbin, which a non-root PATH may lack.
PATH=/usr/sbin:/sbin:$PATH
