package main

import (
	"encoding/json"
	"flag"
	"fmt"

	"github.com/quantfit/quantfit/host/buildinfo"
	"github.com/quantfit/quantfit/host/options"
)

func init() {
	commands = append(commands, &command{
		name:      "version",
		usageLine: "quantfit version [-json]",
		short:     "print the module version and VCS revision of this build",
		long: `Version prints the quantfit module's version and the VCS revision (with
its time, and whether the tree was modified) that the go command stamped
into this binary, and the Go version it was built with. The service
exports the same as the metric quantfit_build_info.`,
		run:   runVersion,
		flags: func(fs *flag.FlagSet) any { j := fs.Bool("json", false, "print JSON"); return j },
	})
}

func runVersion(c *cli, fs *flag.FlagSet, args []string) error {
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return options.Usagef("", "version takes no arguments")
	}
	in := buildinfo.Read()
	if *asJSON {
		e := json.NewEncoder(c.stdout)
		e.SetIndent("", "  ")
		return e.Encode(in)
	}
	_, err := fmt.Fprintln(c.stdout, in)
	return err
}
