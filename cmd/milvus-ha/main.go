// Command milvus-ha keeps a Milvus-compatible vector server highly available
// on a pair of hosts: a VRRP speaker owns the virtual IP, a storage guard
// fences the shared data directory, and drivers start and stop the server.
package main

import (
	"os"

	"github.com/milvus-ha/milvus-ha/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:]))
}
