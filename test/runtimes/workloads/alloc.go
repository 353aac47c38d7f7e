// A Go workload: MIB of heap in 64 KiB slices, every byte written; prints "ready" and waits
// for stdin to close.
package main

import (
	"fmt"
	"os"
	"strconv"
)

var keep [][]byte

func main() {
	mib, _ := strconv.Atoi(os.Args[1])
	for i := 0; i < mib*16; i++ {
		b := make([]byte, 64<<10)
		for j := range b {
			b[j] = 1
		}
		keep = append(keep, b)
	}
	fmt.Println("ready")
	buf := make([]byte, 1)
	for {
		if n, err := os.Stdin.Read(buf); n == 0 || err != nil {
			return
		}
	}
}
