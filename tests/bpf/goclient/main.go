// main.go -- the Go client the chaos-attach tests drive: Go makes its own system calls (no libc,
// so no preload reaches it) and, built with CGO_ENABLED=0, resolves names with its own DNS code.
// Output as tests/bpf/client.c: "STEP RESULT MS".
//
//	goclient connect HOST PORT [TIMEOUT_MS]
//	goclient rr HOST PORT [TIMEOUT_MS]
//	goclient gai NAME
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"
)

var start = time.Now()

func ms() int64 { return time.Since(start).Milliseconds() }

func name(err error) string {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "TIMEOUT"
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		for _, e := range []struct {
			n string
			e syscall.Errno
		}{{"ECONNREFUSED", syscall.ECONNREFUSED}, {"ETIMEDOUT", syscall.ETIMEDOUT},
			{"ECONNRESET", syscall.ECONNRESET}, {"EHOSTUNREACH", syscall.EHOSTUNREACH},
			{"ENETUNREACH", syscall.ENETUNREACH}, {"EPERM", syscall.EPERM},
			{"EACCES", syscall.EACCES}} {
			if errno == e.e {
				return e.n
			}
		}
		return "errno" + strconv.Itoa(int(errno))
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		if dnsErr.IsNotFound {
			return "NOTFOUND"
		}
		if dnsErr.IsTimeout {
			return "TIMEOUT"
		}
		return "DNSFAIL"
	}
	return "OTHER(" + err.Error() + ")"
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: goclient connect|rr HOST PORT [TIMEOUT_MS] | gai NAME")
		os.Exit(2)
	}
	timeout := 1000 * time.Millisecond
	if len(os.Args) > 4 {
		v, err := strconv.Atoi(os.Args[4])
		if err != nil {
			fmt.Fprintln(os.Stderr, "goclient: bad timeout")
			os.Exit(2)
		}
		timeout = time.Duration(v) * time.Millisecond
	}
	switch os.Args[1] {
	case "gai":
		r := &net.Resolver{PreferGo: true}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		addrs, err := r.LookupHost(ctx, os.Args[2])
		if err != nil {
			fmt.Printf("gai %s %d\n", name(err), ms())
			return
		}
		fmt.Printf("gai")
		for _, a := range addrs {
			fmt.Printf(" %s", a)
		}
		fmt.Printf(" %d\n", ms())
	case "connect", "rr":
		if len(os.Args) < 4 {
			os.Exit(2)
		}
		c, err := net.DialTimeout("tcp", net.JoinHostPort(os.Args[2], os.Args[3]), timeout)
		if err != nil {
			fmt.Printf("connect %s %d\n", name(err), ms())
			return
		}
		defer c.Close()
		if os.Args[1] == "connect" {
			fmt.Printf("connect ok %d\n", ms())
			return
		}
		c.SetDeadline(time.Now().Add(timeout))
		if _, err := c.Write([]byte("ping\n")); err != nil {
			fmt.Printf("send %s %d\n", name(err), ms())
			return
		}
		buf := make([]byte, 5)
		got := 0
		for got < 5 {
			n, err := c.Read(buf[got:])
			if err != nil {
				fmt.Printf("recv %s %d\n", name(err), ms())
				return
			}
			got += n
		}
		fmt.Printf("rr ok %d\n", ms())
	default:
		os.Exit(2)
	}
}
