//go:build unix

// Command idlecpu measures the CPU time a process spends while it is idle
// with connections of the caches open: it opens the connections named by
// -conns, runs a few operations on each, then does nothing for -idle and
// prints the user+system CPU time the process used during that period, as
// getrusage(RUSAGE_SELF) reports it. The period starts right after the last
// operation, so it includes what the library does as it goes idle. Built
// with the tag baseline, it links no part of the library and measures the
// Go runtime alone, the wake-up that ends the period included.
// scripts/idle-cpu runs it.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

func main() {
	conns := flag.String("conns", "memory", "connections to open, comma-separated: memory, redis")
	file := flag.String("file", "", "the file of the memory connection (memory://?file=)")
	redisAddr := flag.String("redis", "", "host:port of the redis-server of the redis connection")
	idle := flag.Duration("idle", 10*time.Second, "how long to stay idle")
	freePort := flag.Bool("free-port", false, "print a free loopback TCP port and exit")
	flag.Parse()
	if *freePort {
		must(printFreePort())
		return
	}
	closeAll, err := open(*conns, *file, *redisAddr)
	must(err)
	before := cpuTime()
	time.Sleep(*idle)
	used := cpuTime() - before
	must(closeAll())
	fmt.Printf("%-14s %7.3f ms of CPU in %v idle\n", label(*conns), float64(used)/float64(time.Millisecond), *idle)
}

// cpuTime returns the user and system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	must(syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// printFreePort prints a loopback port that was free a moment ago.
func printFreePort() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	fmt.Println(l.Addr().(*net.TCPAddr).Port)
	return nil
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "idlecpu:", err)
		os.Exit(1)
	}
}
