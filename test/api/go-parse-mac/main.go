// The legacy cloud-config-server's MAC parser, Go's net.ParseMAC, as an oracle for
// test/api/mac-go.test.ts: one input per line on stdin (Go-quoted, so any byte can be sent),
// one answer per line on stdout: the canonical address, or "!" when net.ParseMAC refuses it.
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		s, err := strconv.Unquote(in.Text())
		if err != nil {
			fmt.Fprintln(os.Stderr, "bad input line:", err)
			os.Exit(2)
		}
		if mac, err := net.ParseMAC(s); err == nil {
			fmt.Fprintln(out, mac.String())
		} else {
			fmt.Fprintln(out, "!")
		}
	}
}
