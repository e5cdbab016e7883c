// The legacy cloud-config-server's reading of cluster-desc.yml, as an oracle for
// test/legacy/yaml-go.test.ts: gopkg.in/yaml.v2 (YAML 1.1, what that server used) decoding into
// the field types the server declared (strings, bools, one int). One document per line on stdin,
// Go-quoted; one JSON line per document on stdout: {"cluster": ...} or {"error": "..."}.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strconv"

	"gopkg.in/yaml.v2"
)

type node struct {
	MAC          string `yaml:"mac" json:"mac"`
	CurHostName  string `yaml:"cur_host_name" json:"cur_host_name"`
	IP           string `yaml:"ip" json:"ip"`
	KubeMaster   bool   `yaml:"kube_master" json:"kube_master"`
	EtcdMember   bool   `yaml:"etcd_member" json:"etcd_member"`
	IngressLabel bool   `yaml:"ingress_label" json:"ingress_label"`
	CephMonitor  bool   `yaml:"ceph_monitor" json:"ceph_monitor"`
	FlannelIface string `yaml:"flannel_iface" json:"flannel_iface"`
}

type cluster struct {
	Bootstrapper             string            `yaml:"bootstrapper" json:"bootstrapper"`
	Subnet                   string            `yaml:"subnet" json:"subnet"`
	Netmask                  string            `yaml:"netmask" json:"netmask"`
	IPLow                    string            `yaml:"iplow" json:"iplow"`
	IPHigh                   string            `yaml:"iphigh" json:"iphigh"`
	Routers                  []string          `yaml:"routers" json:"routers"`
	Broadcast                string            `yaml:"broadcast" json:"broadcast"`
	Nameservers              []string          `yaml:"nameservers" json:"nameservers"`
	UpstreamNameServers      []string          `yaml:"upstreamnameservers" json:"upstreamnameservers"`
	DomainName               string            `yaml:"domainname" json:"domainname"`
	Dockerdomain             string            `yaml:"dockerdomain" json:"dockerdomain"`
	Lease                    string            `yaml:"lease" json:"lease"`
	StartPXE                 bool              `yaml:"start_pxe" json:"start_pxe"`
	SetNTP                   bool              `yaml:"set_ntp" json:"set_ntp"`
	K8sServiceClusterIPRange string            `yaml:"k8s_service_cluster_ip_range" json:"k8s_service_cluster_ip_range"`
	K8sClusterDNS            string            `yaml:"k8s_cluster_dns" json:"k8s_cluster_dns"`
	KubeMasterIP             []string          `yaml:"kube_master_ip" json:"kube_master_ip"`
	KubeMasterDNS            []string          `yaml:"kube_master_dns" json:"kube_master_dns"`
	FlannelBackend           string            `yaml:"flannel_backend" json:"flannel_backend"`
	OSName                   string            `yaml:"os_name" json:"os_name"`
	CoreOSChannel            string            `yaml:"coreos_channel" json:"coreos_channel"`
	CoreOSVersion            string            `yaml:"coreos_version" json:"coreos_version"`
	SSHAuthorizedKeys        string            `yaml:"ssh_authorized_keys" json:"ssh_authorized_keys"`
	Images                   map[string]string `yaml:"images" json:"images"`
	CoreOS                   struct {
		RebootStrategy string `yaml:"reboot_strategy" json:"reboot_strategy"`
		StartTime      string `yaml:"start_time" json:"start_time"`
		TimeLength     string `yaml:"time_length" json:"time_length"`
	} `yaml:"coreos" json:"coreos"`
	Ceph struct {
		ZapAndStartOSD bool `yaml:"zap_and_start_osd" json:"zap_and_start_osd"`
		OSDJournalSize int  `yaml:"osd_journal_size" json:"osd_journal_size"`
	} `yaml:"ceph" json:"ceph"`
	Nodes []node `yaml:"nodes" json:"nodes"`
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	for in.Scan() {
		doc, err := strconv.Unquote(in.Text())
		if err != nil {
			fmt.Fprintln(os.Stderr, "bad input line:", err)
			os.Exit(2)
		}
		var c cluster
		if err := yaml.Unmarshal([]byte(doc), &c); err != nil {
			enc.Encode(map[string]string{"error": err.Error()})
		} else {
			enc.Encode(map[string]cluster{"cluster": c})
		}
	}
}
