// Command quantfit finds the parameters of pixel-wise image filters from
// pairs of original and filtered images. Run "quantfit help" for the
// commands.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
